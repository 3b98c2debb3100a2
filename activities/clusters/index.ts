/**
 * Activities of the cluster workflow. Each is idempotent: it looks at the cloud (by label)
 * and the database before acting, so a retry after a killed driver does only what is left.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Context, ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from '../deps';
import { clock } from '../deps';
import type { ClusterNodeDriver } from './node-driver';
import { nodesOf, masterName } from '../../domain/clusters/spec';
import { nodeResources } from '../../domain/clusters/costs';
import { stepsOf, type ClusterStep } from '../../domain/clusters/steps';
import { loadRateCard } from '../../db/queries/resources';
import {
  endNode,
  failApply,
  finishApply,
  finishImage,
  getCluster,
  getImage,
  getPlan,
  liveNodes,
  recordNode,
} from '../../db/queries/clusters';

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-cluster-image.sh', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const jupyterBaseUrl = (cluster: string) => `/clusters/${cluster}/jupyter/`;

export function createClusterActivities(deps: ActivityDeps, nodes: ClusterNodeDriver) {
  const { db } = deps;

  async function applyingPlan(cluster: string, planId: number) {
    const plan = await getPlan(db, planId);
    if (!plan || plan.cluster !== cluster || plan.state !== 'applying') return null;
    return plan;
  }

  async function imageRefOf(name: string): Promise<string> {
    const image = await getImage(db, name);
    if (!image || image.state !== 'built') throw ApplicationFailure.nonRetryable(`image ${name} is not built`);
    return image.ref;
  }

  return {
    /** The steps of an applying plan, or null when the plan is not (or no longer) applying. */
    async clusterPlanSteps(a: { cluster: string; planId: number }): Promise<{ action: string; steps: ClusterStep[] } | null> {
      const plan = await applyingPlan(a.cluster, a.planId);
      if (!plan) return null;
      return { action: plan.action, steps: stepsOf(plan.diff) };
    },

    async clusterCreateNode(a: { cluster: string; planId: number; node: string }): Promise<void> {
      const plan = await applyingPlan(a.cluster, a.planId);
      if (!plan) return;
      const cluster = await getCluster(db, a.cluster);
      const wanted = nodesOf(a.cluster, plan.spec).find((n) => n.name === a.node);
      if (!cluster || !wanted) return;
      const imageRef = await imageRefOf(wanted.image);
      const created = await nodes.createNode({
        cluster: a.cluster,
        node: wanted,
        imageRef,
        jupyterToken: cluster.jupyterToken,
        jupyterBaseUrl: jupyterBaseUrl(a.cluster),
      });
      const card = await loadRateCard(db);
      await recordNode(
        db,
        {
          cluster: a.cluster,
          node: wanted.name,
          generation: cluster.generation,
          role: wanted.role,
          shape: wanted,
          resources: nodeResources(wanted, card, deps.config.region),
          handle: created.handle,
          jupyterUrl: created.jupyterUrl,
          timeStarted: created.createdMs,
        },
        clock(deps),
      );
    },

    async clusterRemoveNode(a: { cluster: string; planId: number; node: string }): Promise<void> {
      await nodes.removeNode(a.cluster, a.node);
      await endNode(db, a.cluster, a.node, clock(deps));
    },

    /**
     * Waits until Spark's master counts every worker of the plan alive and Jupyter answers,
     * so an applied plan means a usable cluster.
     */
    async clusterWaitReady(a: { cluster: string; planId: number }): Promise<void> {
      const plan = await applyingPlan(a.cluster, a.planId);
      if (!plan || plan.spec === null) return;
      const workers = plan.spec.workers;
      const deadline = Date.now() + 8 * 60_000;
      const check =
        `curl -sf http://localhost:8080/json/ | python3 -c 'import json,sys; d=json.load(sys.stdin); ` +
        `print(sum(1 for w in d["workers"] if w["state"]=="ALIVE"))' && ` +
        `curl -s -o /dev/null -w '%{http_code}\\n' http://localhost:8888${jupyterBaseUrl(a.cluster)}api/status`;
      for (;;) {
        Context.current().heartbeat();
        const r = await nodes.exec(a.cluster, masterName(a.cluster), check, { timeoutMs: 20_000 }).catch(() => null);
        const [alive, jupyter] = (r?.stdout ?? '').trim().split('\n');
        // Jupyter answers 403 without its token: it is up.
        if (r?.exitCode === 0 && Number(alive) >= workers && (jupyter === '403' || jupyter === '200')) return;
        if (Date.now() > deadline) throw ApplicationFailure.nonRetryable(`the cluster did not become ready: spark workers alive ${alive ?? '?'} of ${workers}, jupyter ${jupyter ?? '?'}`);
        await sleep(1000);
      }
    },

    /**
     * Removes every node of the cluster the cloud has and the plan's spec does not name (a
     * node created by a create the driver was killed in, or left by a failed apply), and the
     * shared network and volume once nothing is left. The database follows the cloud.
     */
    async clusterReconcile(a: { cluster: string; planId: number }): Promise<void> {
      const plan = await getPlan(db, a.planId);
      if (!plan || plan.cluster !== a.cluster) return;
      const card = plan.spec;
      const wanted = new Set(nodesOf(a.cluster, card).map((n) => n.name));
      const live = await nodes.listNodes(a.cluster);
      for (const n of live) if (!wanted.has(n.node)) await nodes.removeNode(a.cluster, n.node);
      const present = new Set(live.filter((n) => wanted.has(n.node)).map((n) => n.node));
      for (const row of await liveNodes(db, a.cluster)) if (!present.has(row.node)) await endNode(db, a.cluster, row.node, clock(deps));
      if (wanted.size === 0) await nodes.removeShared(a.cluster);
    },

    async clusterFinishPlan(a: { cluster: string; planId: number }): Promise<void> {
      await finishApply(db, a.cluster, a.planId, clock(deps));
    },

    async clusterFailPlan(a: { cluster: string; planId: number; error: string }): Promise<void> {
      await failApply(db, a.cluster, a.planId, a.error, clock(deps));
    },

    /**
     * Builds the cluster image with scripts/build-cluster-image.sh (a cached build is a tag
     * lookup) and records the tag the name stands for. Heartbeats while the build runs.
     */
    async clusterBuildImage(a: { name: string }): Promise<void> {
      const image = await getImage(db, a.name);
      if (!image || image.state !== 'building') return;
      const started = Date.now();
      const result = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        child.on('close', (code) => {
          clearInterval(beat);
          resolve({ code: code ?? 1, out, err });
        });
      });
      const tag = result.out.trim().split('\n').pop() ?? '';
      if (result.code === 0 && tag) await finishImage(db, a.name, { ref: tag, buildMs: Date.now() - started });
      else await finishImage(db, a.name, { error: result.err.trim() || `build exited ${result.code}` });
    },

  };
}

export type ClusterActivities = ReturnType<typeof createClusterActivities>;
