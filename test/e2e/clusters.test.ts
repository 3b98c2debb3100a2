/**
 * Clusters used as an operator and users would: build (cached) and share an image, create a
 * 1-master + 2-worker Spark cluster with the driver killed -9 mid-create, run Hail from a
 * script, a notebook cell through the service's Jupyter proxy and pyspark through the login
 * shell, refuse a stale plan, grow to 3 workers, and destroy with the driver killed -9
 * mid-destroy: no node, network or volume is left. The API and driver are separate processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startProcessService, type ProcessService } from '../support/processes';
import { waitFor } from '../support/service';
import { apiCaller, buildClusterImage } from '../support/cluster-images';
import { testTemporal } from '../support/temporal';
import { addProjectMember, ensureBillingProject } from '../../db/queries/users';
import { createLocalNodeDriver } from '../../activities/clusters/local-nodes';

const CELL = fileURLToPath(new URL('../support/jupyter-cell.mjs', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const deployment = `t${randomInt(1e6, 1e7)}`;
const nodes = createLocalNodeDriver({ deployment, dockerSocket: '/var/run/docker.sock', publishHost: '127.0.0.1' });
const NAME = 'ld14';
const IMAGE = 'hail-base/1.0.0';

let s: ProcessService;

type Json = Record<string, unknown>;
const call = apiCaller(() => s);

async function waitPlan(planId: number, timeoutMs = 600_000): Promise<Json> {
  return waitFor(
    `plan ${planId} to finish`,
    async () => {
      const c = (await call('GET', `/clusters/${NAME}`)).json;
      if (c.applying_plan === planId) return null;
      return c;
    },
    timeoutMs,
    1000,
  );
}

const labelled = (kind: 'container' | 'network' | 'volume') =>
  execFileSync('docker', [kind, 'ls', ...(kind === 'container' ? ['-a'] : []), '-q', '--filter', `label=hail-batch.cluster-deployment=${deployment}`], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);

/** The operator's CLI, `cli/main.ts cluster …`, as a process against the service: exit code and output. */
function cli(args: string[], timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, 'cluster', ...args],
      { env: { ...process.env, HB_API_URL: s.url, HB_TOKEN: s.token }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    // Nothing is typed in: `cluster ssh NAME -- …` runs without a terminal.
    child.stdin?.end();
  });
}

async function onMaster(script: string, timeoutMs = 600_000): Promise<string> {
  const r = await nodes.exec(NAME, `${NAME}-master`, script, { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

beforeAll(async () => {
  s = await startProcessService({ name: 'clusters', executor: 'process', pools: 'standard:0', env: { HB_CLUSTER_DEPLOYMENT: deployment } });
  await s.start('api');
  await s.start('driver');
  await ensureBillingProject(s.database.db, 'other');
  await addProjectMember(s.database.db, 'other', 'alice');
}, 120_000);

afterAll(async () => {
  // Whatever a failed test left: the cloud is cleaned by label.
  for (const n of await nodes.listNodes()) await nodes.removeNode(n.cluster, n.node);
  for (const c of new Set((await nodes.listNodes()).map((n) => n.cluster))) await nodes.removeShared(c);
  await nodes.removeShared(NAME);
  await s?.stop();
}, 120_000);

describe('clusters', () => {
  it('builds an image once, shares it, and only a project that built or accepted it may deploy it', async () => {
    const image = await buildClusterImage(call, IMAGE);
    expect(image.state).toBe('built');
    expect(String(image.ref)).toMatch(/^hail-batch-cluster:[0-9a-f]{16}$/);
    expect((await call('POST', '/cluster-images', { name: IMAGE, billing_project: 'test' })).status).toBe(409);
    expect((await call('POST', '/cluster-images', { name: 'hail-base/latest', billing_project: 'test' })).json).toMatchObject({ error: { field: 'name' } });

    const spec = { image: IMAGE, workers: 1 };
    const refused = await call('POST', '/clusters/elsewhere/plan', { to: 'create', spec, billing_project: 'other' });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { field: 'spec.image' } });
    expect((await call('POST', `/cluster-images/${IMAGE}/accept`, { billing_project: 'other' })).status).toBe(403);
    expect((await call('POST', `/cluster-images/${IMAGE}/share`, { billing_projects: ['other'] })).status).toBe(200);
    expect((await call('POST', `/cluster-images/${IMAGE}/accept`, { billing_project: 'other' })).status).toBe(200);
    expect((await call('POST', '/clusters/elsewhere/plan', { to: 'create', spec, billing_project: 'other' })).status).toBe(201);
  }, 3_700_000);

  it('refuses bad specs and plans naming the field', async () => {
    const bad = await call('POST', `/clusters/${NAME}/plan`, { to: 'create', spec: { image: IMAGE, workers: -1 }, billing_project: 'test' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { field: 'spec.workers' } });
    expect((await call('POST', `/clusters/${NAME}/plan`, { to: 'update', spec: { image: IMAGE, workers: 2 } })).json).toMatchObject({ error: { field: 'to' } });
    expect((await call('POST', `/clusters/${NAME}/plan`, { to: 'destroy' })).status).toBe(400);
    expect((await call('POST', '/clusters/Bad_Name/plan', { to: 'destroy' })).json).toMatchObject({ error: { field: 'name' } });
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: 999999 })).status).toBe(404);
  });

  it('creates 1 master + 2 workers through a driver killed -9 mid-create', async () => {
    const plan = await call('POST', `/clusters/${NAME}/plan`, { to: 'create', spec: { image: IMAGE, workers: 2 }, billing_project: 'test' });
    expect(plan.status).toBe(201);
    expect(plan.json).toMatchObject({ to: 'create', summary: { add: 3, remove: 0, change: 0, keep: 0 } });
    expect((plan.json.hourly_cost as { after: number }).after).toBeGreaterThan(0);
    const id = plan.json.id as number;
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: id })).status).toBe(202);
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: id })).status).toBe(409);
    await waitFor('a first node', async () => labelled('container').length > 0, 120_000, 100);
    s.kill9('driver');
    await s.start('driver');
    const c = await waitPlan(id);
    expect(c).toMatchObject({ state: 'running', spark: { alive_workers: 2 } });
    expect(labelled('container')).toHaveLength(3);
    const live = await nodes.listNodes(NAME);
    expect(live.map((n) => n.node).sort()).toEqual([`${NAME}-master`, `${NAME}-worker-1`, `${NAME}-worker-2`]);
    // Temporal's visibility finds the cluster's workflow by its search attribute (what `temporal workflow list --query` asks).
    const { client } = await testTemporal();
    const found = await waitFor('the cluster workflow in visibility', async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: `ClusterName = '${NAME}' AND ExecutionStatus = 'Running'` })) ids.push(w.workflowId);
      return ids.includes(c.workflow_id as string) ? ids : null;
    }, 30_000, 500);
    expect(found).toContain(c.workflow_id);
  }, 900_000);

  it('runs Hail from a script: range_table count and an import_vcf/export_vcf round trip in the shared tmp', async () => {
    const vcf = [
      '##fileformat=VCFv4.2',
      '##contig=<ID=1,length=249250621>',
      '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
      '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2',
      '1\t100\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t1/1',
      '1\t200\t.\tG\tT\t.\tPASS\t.\tGT\t0/0\t0/1',
    ].join('\n');
    const script = [
      'import hail as hl, pyspark',
      'hl.init(sc=pyspark.SparkContext(), tmp_dir=os.environ["HAIL_HOME"] + "/tmp", quiet=True)',
      'print("COUNT", hl.utils.range_table(1000).count())',
      // A JSON string is a Python string literal too.
      `open(os.environ["HAIL_HOME"] + "/tmp/in.vcf", "w").write(${JSON.stringify(vcf + '\n')})`,
      'mt = hl.import_vcf("file://" + os.environ["HAIL_HOME"] + "/tmp/in.vcf")',
      'hl.export_vcf(mt, "file://" + os.environ["HAIL_HOME"] + "/tmp/out.vcf.bgz")',
      'back = hl.import_vcf("file://" + os.environ["HAIL_HOME"] + "/tmp/out.vcf.bgz", force_bgz=True)',
      'print("ROUNDTRIP", back.count_rows(), back.count_cols(), back.aggregate_entries(hl.agg.count_where(back.GT.is_non_ref())))',
    ].join('\n');
    const out = await onMaster(`cat > $HAIL_HOME/tmp/job.py <<'PY'\nimport os\n${script}\nPY\npython3 $HAIL_HOME/tmp/job.py 2>$HAIL_HOME/tmp/job.err || { tail -40 $HAIL_HOME/tmp/job.err; exit 1; }`);
    expect(out).toContain('COUNT 1000');
    expect(out).toContain('ROUNDTRIP 2 2 3');
    // The shared tmp is the same directory on a worker.
    const r = await nodes.exec(NAME, `${NAME}-worker-1`, 'ls $HAIL_HOME/tmp/');
    expect(r.stdout).toContain('out.vcf.bgz');
  }, 900_000);

  it('runs a notebook cell through the Jupyter proxy, only for a signed-in member', async () => {
    expect((await fetch(`${s.url}/clusters/${NAME}/jupyter/api/status`)).status).toBe(401);
    const status = await s.api(`/clusters/${NAME}/jupyter/api/status`);
    expect(status.status).toBe(200);
    const kernel = await s.api(`/clusters/${NAME}/jupyter/api/kernels`, { method: 'POST', json: { name: 'python3' } });
    expect(kernel.status).toBe(201);
    const { id } = (await kernel.json()) as { id: string };
    const ws = `${s.url.replace('http', 'ws')}/clusters/${NAME}/jupyter/api/kernels/${id}/channels`;
    const r = spawnSync(process.execPath, ['--experimental-websocket', CELL, ws, s.token, 'import pyspark\nsc = pyspark.SparkContext()\nprint("SUM", sc.parallelize(range(100)).sum())\nsc.stop()'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(r.stderr + r.stdout).toContain('SUM 4950');
    const unsigned = spawnSync(process.execPath, ['--experimental-websocket', CELL, ws, 'not-a-token', 'print(1)'], { encoding: 'utf8', timeout: 60_000 });
    expect(unsigned.status).not.toBe(0);
  }, 400_000);

  it('runs pyspark non-interactively in the login shell (cluster ssh)', async () => {
    const r = await cli(['ssh', NAME, '--', 'echo $HAIL_HOME; echo "print(\\"PYSPARK\\", sc.parallelize(range(10)).count())" | pyspark 2>/dev/null'], 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('/hail');
    expect(r.stdout).toContain('PYSPARK 10');
  }, 400_000);

  it('refuses a stale plan and grows to 3 workers through the CLI; the new worker joins Spark', async () => {
    // The operator's two steps: plan (a table to read), then apply (followed to the end).
    const planned = await cli(['plan', NAME, '--to', 'update', '--workers', '3']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/^plan \d+: update cluster ld14$/m);
    expect(planned.stdout).toMatch(/^NODE\s+ROLE\s+CHANGE\s+BEFORE\s+AFTER$/m);
    expect(planned.stdout).toMatch(/^ld14-worker-3\s+worker\s+add\s+-\s+\d+ cores, \d+ GiB$/m);
    expect(planned.stdout).toContain('1 to add, 0 to change, 0 to remove, 3 unchanged');
    const aId = Number(/^plan (\d+):/m.exec(planned.stdout)![1]);
    const b = (await call('POST', `/clusters/${NAME}/plan`, { to: 'update', spec: { image: IMAGE, workers: 3 } })).json;
    const destroyFirst = (await call('POST', `/clusters/${NAME}/plan`, { to: 'destroy' })).json;
    expect((await call('POST', `/clusters/${NAME}/up`, { spec: { image: IMAGE, workers: 3 }, to: 'destroy' })).status).toBe(400);
    // `down` carries out destroy plans only; `apply` refuses one.
    const wrong = await cli(['down', NAME, '--plan', String(aId)]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('down needs a destroy plan');
    expect((await cli(['apply', NAME, '--plan', String(destroyFirst.id)])).stderr).toContain('is a destroy plan');
    const applied = await cli(['apply', NAME, '--plan', String(aId)], 900_000);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`applying plan ${aId}`);
    expect(applied.stdout).toMatch(/^\s+\w+: \d+\/\d+ steps/m);
    expect(applied.stdout).toContain(`plan ${aId} applied: cluster ld14 is running, 3 Spark worker(s) alive`);
    const c = (await call('GET', `/clusters/${NAME}`)).json;
    expect(c).toMatchObject({ state: 'running', spark: { alive_workers: 3 } });
    const stale = await call('POST', `/clusters/${NAME}/apply`, { plan_id: b.id });
    expect(stale.status).toBe(409);
    expect(String((stale.json.error as Json).message)).toContain('stale');
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: destroyFirst.id })).status).toBe(409);
    expect(labelled('container')).toHaveLength(3 + 1);
    expect((c.cost as number)).toBeGreaterThan(0);
    const status = await cli(['status', NAME]);
    expect(status.stdout).toMatch(/^cluster ld14: running/m);
    expect(status.stdout).toContain('Spark: 3 worker(s) alive');
    expect(status.stdout.match(/^ {2}ld14-/gm)).toHaveLength(4);
  }, 900_000);

  it('destroys only through a destroy plan, through a driver killed -9 mid-destroy, leaving nothing', async () => {
    const plan = (await call('POST', `/clusters/${NAME}/plan`, { to: 'destroy' })).json;
    expect(plan).toMatchObject({ to: 'destroy', summary: { remove: 4 }, hourly_cost: { after: 0 } });
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: plan.id })).status).toBe(202);
    await waitFor('a first node to go', async () => labelled('container').length < 4, 120_000, 50);
    s.kill9('driver');
    await s.start('driver');
    const c = await waitPlan(plan.id as number);
    expect(c).toMatchObject({ state: 'destroyed', spec: null });
    expect((c.nodes as { live: boolean }[]).every((n) => !n.live)).toBe(true);
    expect(labelled('container')).toEqual([]);
    expect(labelled('network')).toEqual([]);
    expect(labelled('volume')).toEqual([]);
    expect((await s.api(`/clusters/${NAME}/jupyter/api/status`)).status).toBe(503);
    expect((await cli(['status', NAME])).stdout).toMatch(/^cluster ld14: destroyed/m);
    expect((await cli(['list'])).stdout).toMatch(/^ld14\tdestroyed\t0 node\(s\)$/m);
  }, 900_000);
});
