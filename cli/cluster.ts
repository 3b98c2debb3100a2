/**
 * `cluster …` sub-commands: an operator's view of clusters through the API. Plans print as a
 * table; apply, up and down follow the cluster's workflow until the plan is carried out.
 *
 * The API is HB_API_URL (or the local service's dev-credentials.json url) and the token is
 * HB_TOKEN (or the dev credentials' token).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../config';
import { credentialsPath, type DevCredentials } from './bootstrap';

export const CLUSTER_USAGE = [
  'usage: cli/main.ts cluster <command>',
  '  image build NAME --project P            build a cluster image (e.g. hail-base/1.0.0) owned by P',
  '  image share NAME --with P1,P2           offer it to other billing projects',
  '  image accept NAME --project P           accept an image shared with P',
  '  image list                              images you own or were offered',
  '  plan NAME --to create|update|destroy [--image I] [--workers N] [--worker-cores C] [--worker-memory GIB]',
  '       [--master-cores C] [--master-memory GIB] [--project P]   store a plan and print it',
  '  apply NAME [--plan ID]                  carry out the latest plan (or plan ID) and follow it',
  '  up NAME [spec flags as for plan]        plan and apply a create or update at once',
  '  down NAME [--plan ID]                   carry out the destroy plan (plan one first)',
  '  status NAME                             state, nodes, cost',
  '  list                                    your clusters',
  '  ssh NAME [-- COMMAND]                   a login shell on the master (or run COMMAND in it)',
].join('\n');

export class ClusterUsageError extends Error {}
export class ClusterRefused extends Error {}

type Flags = Record<string, string>;

function parseArgs(args: readonly string[]): { positional: string[]; flags: Flags; rest: string[] } {
  const positional: string[] = [];
  const flags: Flags = {};
  let rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest = args.slice(i + 1);
      break;
    }
    if (a.startsWith('--')) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new ClusterUsageError(`${a} needs a value\n${CLUSTER_USAGE}`);
      flags[a.slice(2)] = v;
      i++;
    } else positional.push(a);
  }
  return { positional, flags, rest };
}

type PlanJson = {
  id: number;
  to: string;
  state: string;
  changes: { node: string; change: string; before: NodeShape | null; after: NodeShape | null }[];
  summary: Record<string, number>;
  hourly_cost: { before: number; after: number };
};
type NodeShape = { role: string; cores: number; memory_gib: number; image: string };

const money = (d: number) => `$${d.toFixed(4)}`;
const shape = (n: NodeShape | null) => (n ? `${n.cores} cores, ${n.memory_gib} GiB` : '-');

/** A plan as the table an operator reads before applying it. Pure. */
export function formatPlan(cluster: string, p: PlanJson): string {
  const rows = [['NODE', 'ROLE', 'CHANGE', 'BEFORE', 'AFTER'], ...p.changes.map((c) => [c.node, (c.after ?? c.before)!.role, c.change, shape(c.before), shape(c.after)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const s = p.summary;
  return [
    `plan ${p.id}: ${p.to} cluster ${cluster}`,
    '',
    ...rows.map(line),
    '',
    `${s.add ?? 0} to add, ${s.change ?? 0} to change, ${s.remove ?? 0} to remove, ${s.keep ?? 0} unchanged`,
    `hourly cost: ${money(p.hourly_cost.before)} -> ${money(p.hourly_cost.after)}`,
    p.state === 'planned' ? `apply it with: cluster ${p.to === 'destroy' ? 'down' : 'apply'} ${cluster} --plan ${p.id}` : `state: ${p.state}`,
  ].join('\n');
}

function specFrom(flags: Flags, current: Record<string, unknown> | null): Record<string, unknown> {
  const num = (k: string) => {
    const v = flags[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ClusterUsageError(`--${k}: expected a whole number, got '${v}'`);
    return n;
  };
  const spec: Record<string, unknown> = { ...(current ?? {}) };
  if (flags.image !== undefined) spec.image = flags.image;
  const workers = num('workers');
  if (workers !== undefined) spec.workers = workers;
  const w = { ...((spec.worker as object) ?? {}) } as Record<string, number>;
  const m = { ...((spec.master as object) ?? {}) } as Record<string, number>;
  if (num('worker-cores') !== undefined) w.cores = num('worker-cores')!;
  if (num('worker-memory') !== undefined) w.memory_gib = num('worker-memory')!;
  if (num('master-cores') !== undefined) m.cores = num('master-cores')!;
  if (num('master-memory') !== undefined) m.memory_gib = num('master-memory')!;
  if (Object.keys(w).length > 0) spec.worker = { cores: 1, memory_gib: 2, ...w };
  if (Object.keys(m).length > 0) spec.master = { cores: 1, memory_gib: 2, ...m };
  return spec;
}

export async function runCluster(args: readonly string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const config = loadConfig();
  const credsFile = credentialsPath(config.dataDir);
  const creds = existsSync(credsFile) ? (JSON.parse(readFileSync(credsFile, 'utf8')) as Partial<DevCredentials>) : {};
  const url = config.clusters.cliApiUrl ?? creds.url ?? config.api.url;
  const token = config.clusters.cliToken ?? creds.token;
  if (!token) throw new ClusterRefused('no API token: set HB_TOKEN, or run the local service (npm start) so its dev credentials exist');

  const call = async <T>(method: string, route: string, body?: object): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${url}/api/v1alpha${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      throw new ClusterRefused(`the service at ${url} does not answer (${String(e)})`);
    }
    const json = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
    if (!res.ok) throw new ClusterRefused(`${res.status}: ${json.error?.message ?? 'refused'}`);
    return json;
  };

  const { positional, flags, rest } = parseArgs(args);
  const [cmd, a1, a2] = positional;
  const name = (what: string, v: string | undefined) => {
    if (!v) throw new ClusterUsageError(`missing ${what}\n${CLUSTER_USAGE}`);
    return encodeURIComponent(v).replace(/%2F/gi, '/');
  };
  type ClusterJson = {
    name: string;
    state: string;
    generation: number;
    spec: Record<string, unknown> | null;
    error: string | null;
    applying_plan: number | null;
    nodes: { node: string; role: string; cores: number; memory_gib: number; live: boolean }[];
    hourly_cost: number;
    cost: number;
    jupyter_path: string;
    login_command: string[];
    workflow_id: string;
    progress: { phase: string; steps: { kind: string; node: string; state: string }[] } | null;
    spark: { alive_workers: number } | null;
    latest_plan: PlanJson | null;
  };
  const status = (n: string) => call<ClusterJson>('GET', `/clusters/${n}`);

  /** Polls the cluster until the plan is no longer applying, printing each change of progress. */
  const follow = async (n: string, planId: number): Promise<number> => {
    let last = '';
    for (;;) {
      const c = await status(n);
      const p = c.progress;
      const line = c.applying_plan === planId && p
        ? `${p.phase}: ${p.steps.filter((s) => s.state === 'done').length}/${p.steps.length} steps` +
          (p.steps.some((s) => s.state === 'running') ? ` (${p.steps.filter((s) => s.state === 'running').map((s) => `${s.kind} ${s.node}`).join(', ')})` : '')
        : `state: ${c.state}`;
      if (line !== last) out(`  ${line}`);
      last = line;
      if (c.applying_plan !== planId) {
        if (c.state === 'failed') {
          out(`plan ${planId} failed: ${c.error ?? ''}`);
          return 1;
        }
        out(`plan ${planId} applied: cluster ${n} is ${c.state}${c.spark ? `, ${c.spark.alive_workers} Spark worker(s) alive` : ''}`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };

  switch (cmd) {
    case 'image': {
      if (a1 === 'list') {
        for (const i of await call<{ name: string; state: string; billing_project: string; ref: string }[]>('GET', '/cluster-images')) {
          out(`${i.name}\t${i.state}\t${i.billing_project}\t${i.ref}`);
        }
        return 0;
      }
      const img = name('image name', a2);
      if (a1 === 'build') {
        if (!flags.project) throw new ClusterUsageError('image build needs --project');
        await call('POST', '/cluster-images', { name: a2, billing_project: flags.project });
        out(`building ${a2} (the first build takes minutes; later ones reuse the cached image)`);
        for (;;) {
          const i = await call<{ state: string; error: string | null; ref: string; build_ms: number | null }>('GET', `/cluster-images/${img}`);
          if (i.state === 'built') {
            out(`built ${a2} = ${i.ref} in ${Math.round((i.build_ms ?? 0) / 1000)} s`);
            return 0;
          }
          if (i.state === 'failed') {
            out(`build of ${a2} failed: ${i.error ?? ''}`);
            return 1;
          }
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
      if (a1 === 'share') {
        if (!flags.with) throw new ClusterUsageError('image share needs --with P1,P2');
        await call('POST', `/cluster-images/${img}/share`, { billing_projects: flags.with.split(',').filter(Boolean) });
        out(`shared ${a2} with ${flags.with}`);
        return 0;
      }
      if (a1 === 'accept') {
        if (!flags.project) throw new ClusterUsageError('image accept needs --project');
        await call('POST', `/cluster-images/${img}/accept`, { billing_project: flags.project });
        out(`${flags.project} accepted ${a2}`);
        return 0;
      }
      throw new ClusterUsageError(CLUSTER_USAGE);
    }
    case 'plan': {
      const n = name('cluster name', a1);
      const to = flags.to;
      if (to !== 'create' && to !== 'update' && to !== 'destroy') throw new ClusterUsageError('plan needs --to create|update|destroy');
      const current = to === 'update' ? (await status(n)).spec : null;
      const body = to === 'destroy' ? { to } : { to, spec: specFrom(flags, current), ...(flags.project ? { billing_project: flags.project } : {}) };
      out(formatPlan(a1!, await call<PlanJson>('POST', `/clusters/${n}/plan`, body)));
      return 0;
    }
    case 'apply':
    case 'down': {
      const n = name('cluster name', a1);
      let planId = flags.plan ? Number(flags.plan) : null;
      if (planId === null) {
        const latest = (await status(n)).latest_plan;
        if (!latest || latest.state !== 'planned') throw new ClusterRefused(`cluster ${a1} has no plan waiting; run: cluster plan ${a1} --to …`);
        planId = latest.id;
      }
      const plan = await call<PlanJson>('GET', `/clusters/${n}/plans/${planId}`);
      if (cmd === 'down' && plan.to !== 'destroy') throw new ClusterRefused(`plan ${planId} is a ${plan.to} plan; down needs a destroy plan: cluster plan ${a1} --to destroy`);
      if (cmd === 'apply' && plan.to === 'destroy') throw new ClusterRefused(`plan ${planId} is a destroy plan; carry it out with: cluster down ${a1}`);
      out(formatPlan(a1!, plan));
      await call('POST', `/clusters/${n}/apply`, { plan_id: planId });
      out(`applying plan ${planId}…`);
      return follow(n, planId);
    }
    case 'up': {
      const n = name('cluster name', a1);
      const existing = await status(n).catch(() => null);
      const spec = specFrom(flags, existing?.spec ?? null);
      const plan = await call<PlanJson>('POST', `/clusters/${n}/up`, { spec, ...(flags.project ? { billing_project: flags.project } : {}) });
      out(formatPlan(a1!, plan));
      out(`applying plan ${plan.id}…`);
      return follow(n, plan.id);
    }
    case 'status': {
      const c = await status(name('cluster name', a1));
      out(`cluster ${c.name}: ${c.state} (generation ${c.generation})${c.error ? ` — ${c.error}` : ''}`);
      for (const node of c.nodes.filter((x) => x.live)) out(`  ${node.node}\t${node.role}\t${node.cores} cores\t${node.memory_gib} GiB`);
      out(`  hourly cost ${money(c.hourly_cost)}, cost so far ${money(c.cost)}`);
      if (c.spark) out(`  Spark: ${c.spark.alive_workers} worker(s) alive`);
      out(`  Jupyter: ${url}${c.jupyter_path}?hb_token=<your token>`);
      out(`  workflow: ${c.workflow_id}`);
      return 0;
    }
    case 'list': {
      for (const c of await call<ClusterJson[]>('GET', '/clusters')) out(`${c.name}\t${c.state}\t${c.nodes.filter((n) => n.live).length} node(s)`);
      return 0;
    }
    case 'ssh': {
      const c = await status(name('cluster name', a1));
      const argv = [...c.login_command];
      if (argv.length === 0) throw new ClusterRefused(`cluster ${a1} has no login command`);
      if (rest.length > 0) {
        // Non-interactive: no terminal, the command run by the login shell.
        const i = argv.indexOf('-it');
        if (i >= 0) argv[i] = '-i';
        argv.push('-c', rest.join(' '));
      }
      const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
      return r.status ?? 1;
    }
    default:
      throw new ClusterUsageError(CLUSTER_USAGE);
  }
}
