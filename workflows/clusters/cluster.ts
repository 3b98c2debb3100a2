/**
 * One durable workflow per cluster, which owns its nodes: it takes plans (signals carrying
 * a stored plan's id, accepted by the API) one at a time and carries each out step by step,
 * each step an idempotent activity, so a driver killed mid-create or mid-destroy resumes where
 * it was. Every apply ends with a reconcile against the cloud's labels, so no node outlives
 * the plan that removed it. A destroy ends the workflow.
 */
import { type RetryPolicy, ApplicationFailure, condition, continueAsNew, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ClusterProgress, ClusterWorkflowInput } from './definitions';
import { applyPlanSignal, clusterProgressQuery } from './definitions';
import { ClusterStateAttr } from '../definitions';

const retry: RetryPolicy = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '20s' };
const db = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
/** A node step gives up after a few tries: an image that cannot start will not start later. */
const node = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 6 } });
const wait = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 3 } });

/** Plan ids taken, kept across continue-as-new so a repeated signal is still ignored. */
const DONE_KEPT = 50;

function message(e: unknown): string {
  if (e instanceof ApplicationFailure) return e.message;
  const cause = (e as { cause?: { message?: string } }).cause;
  return cause?.message ?? String(e);
}

export async function clusterWorkflow(input: ClusterWorkflowInput): Promise<void> {
  const { cluster } = input;
  const pending: number[] = [...(input.pending ?? [])];
  const done: number[] = [...(input.done ?? [])];
  let progress: ClusterProgress = { planId: null, steps: [], phase: 'idle' };
  setHandler(applyPlanSignal, (id) => {
    if (!pending.includes(id) && !done.includes(id)) pending.push(id);
  });
  setHandler(clusterProgressQuery, () => progress);

  for (;;) {
    await condition(() => pending.length > 0);
    const planId = pending[0]!;
    const plan = await db.clusterPlanSteps({ cluster, planId });
    let destroyed = false;
    if (plan) {
      upsertSearchAttributes([{ key: ClusterStateAttr, value: `applying-${plan.action}` }]);
      progress = { planId, phase: 'nodes', steps: plan.steps.map((s) => ({ ...s, state: 'pending' })) };
      const run = async (i: number) => {
        const s = progress.steps[i]!;
        s.state = 'running';
        if (s.kind === 'remove') await node.clusterRemoveNode({ cluster, planId, node: s.node });
        else await node.clusterCreateNode({ cluster, planId, node: s.node });
        s.state = 'done';
      };
      try {
        const idx = plan.steps.map((_, i) => i);
        const removes = idx.filter((i) => plan.steps[i]!.kind === 'remove');
        const masters = idx.filter((i) => plan.steps[i]!.kind === 'create' && plan.steps[i]!.role === 'master');
        const workers = idx.filter((i) => plan.steps[i]!.kind === 'create' && plan.steps[i]!.role === 'worker');
        await Promise.all(removes.map(run));
        for (const i of masters) await run(i);
        await Promise.all(workers.map(run));
        progress.phase = 'waiting-for-spark';
        await wait.clusterWaitReady({ cluster, planId });
        progress.phase = 'reconciling';
        await node.clusterReconcile({ cluster, planId });
        await db.clusterFinishPlan({ cluster, planId });
        destroyed = plan.action === 'destroy';
      } catch (e) {
        // The cluster keeps what exists; the operator sees the error and plans again.
        await db.clusterFailPlan({ cluster, planId, error: message(e) });
      }
      progress.phase = 'done';
    }
    pending.shift();
    done.push(planId);
    if (destroyed) {
      upsertSearchAttributes([{ key: ClusterStateAttr, value: 'destroyed' }]);
      return;
    }
    upsertSearchAttributes([{ key: ClusterStateAttr, value: 'running' }]);
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof clusterWorkflow>({ ...input, pending, done: done.slice(-DONE_KEPT) });
    }
  }
}

const build = proxyActivities<Activities>({ startToCloseTimeout: '90 minutes', heartbeatTimeout: '1 minute', retry: { ...retry, maximumAttempts: 3 } });

/** Builds one cluster image; a killed driver's build is run again (the build script is cached and locked). */
export async function clusterImageWorkflow(input: { name: string }): Promise<void> {
  await build.clusterBuildImage({ name: input.name });
}
