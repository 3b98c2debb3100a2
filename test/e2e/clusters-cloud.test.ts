/**
 * Clusters on the emulated clouds: with HB_CLOUD=gcp (Compute Engine emulator) and
 * HB_CLOUD=azure (Resource Manager emulator), a 1-master + 1-worker cluster is planned,
 * applied and used, then destroyed, through the service's API and driver as separate
 * processes. Each node is a VM the real SDK asked the emulator for; the VM boots the node
 * startup script the driver rendered, which runs the node image on the emulated cloud's
 * network (a Docker network) at the address the cloud gave the VM. The service reaches the
 * nodes only as it would on a cloud: commands through each node's exec door, Jupyter at the
 * master's address, both behind the cluster's secret. Nothing is left: no VM, NIC or container.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { createClusterNodeDriver } from '../../activities/clusters/drivers';
import type { ClusterNodeDriver } from '../../activities/clusters/node-driver';
import { NODE_LABELS } from '../../activities/clusters/vm-nodes';
import { startProcessService, type ProcessService } from '../support/processes';
import { waitFor } from '../support/service';
import { apiCaller, buildClusterImage } from '../support/cluster-images';
import { startGceEmulator, type GceEmulator } from '../support/emulators/gce';
import { startArmEmulator, type ArmEmulator } from '../support/emulators/arm';

const IMAGE = 'hail-base/1.0.0';
const NAME = 'cc1';
type Json = Record<string, unknown>;

type Cloud = {
  env: Record<string, string>;
  /** The node VMs the emulator holds: name → labels (GCE labels / Azure tags) and size. */
  vms(): { name: string; labels: Record<string, string>; size: string }[];
  /** Every resource of the emulator (VMs, NICs, IPs), by name. */
  resources(): string[];
  close(): Promise<void>;
};

const clouds: Record<'gcp' | 'azure', (dataDir: string, vpc: { dockerNetwork: string; prefix: string }) => Promise<Cloud>> = {
  async gcp(dataDir, vpc) {
    const gce: GceEmulator = await startGceEmulator({ project: 'hail-clusters', zones: [{ zone: 'us-central1-a', cpusQuota: 64 }], dataDir, executor: 'process', vpc });
    const nodes = () => gce.instances().filter((i) => i.labels[NODE_LABELS.node]);
    return {
      env: { HB_CLOUD: 'gcp', HB_GCP_PROJECT: 'hail-clusters', HB_GCP_ZONES: 'us-central1-a', HB_GCP_API_ENDPOINT: gce.url },
      vms: () => nodes().map((i) => ({ name: i.name, labels: i.labels, size: String(i.resource.machineType) })),
      resources: () => gce.instances().map((i) => i.name),
      close: () => gce.close(),
    };
  },
  async azure(dataDir, vpc) {
    const arm: ArmEmulator = await startArmEmulator({
      subscriptionId: '00000000-0000-4000-8000-0000000c1a55',
      resourceGroup: 'hail-clusters',
      locations: [{ location: 'eastus', coresQuota: 64 }],
      dataDir,
      executor: 'process',
      vpc,
    });
    const nodes = () => arm.resources().filter((r) => r.kind === 'vm' && r.tags[NODE_LABELS.node]);
    return {
      env: arm.driverEnv('clusters'),
      vms: () => nodes().map((r) => ({ name: r.name, labels: r.tags, size: String(((r.body.properties as Json).hardwareProfile as Json).vmSize) })),
      resources: () => arm.resources().map((r) => `${r.kind}:${r.name}`),
      close: () => arm.close(),
    };
  },
};

const containersOf = (vm: string) =>
  execFileSync('docker', ['ps', '-aq', '--filter', `label=hail-batch.instance=${vm}`], { encoding: 'utf8' }).split('\n').filter(Boolean);

describe.each(['gcp', 'azure'] as const)('a cluster on emulated %s', (cloudName) => {
  const deployment = `c${randomInt(1e5, 1e6)}`;
  const dockerNetwork = `hbvpc-${deployment}`;
  const prefix = `10.${randomInt(200, 250)}.${randomInt(0, 255)}`;
  const vmDir = mkdtempSync(path.join(os.tmpdir(), 'hb-cloud-vms-'));
  let cloud: Cloud;
  let s: ProcessService;
  let nodes: ClusterNodeDriver;

  const call = apiCaller(() => s);
  async function apply(to: 'create' | 'update' | 'destroy', spec?: Json): Promise<Json> {
    const plan = await call('POST', `/clusters/${NAME}/plan`, { to, ...(spec ? { spec, billing_project: 'test' } : {}) });
    expect(plan.status, JSON.stringify(plan.json)).toBe(201);
    const id = plan.json.id as number;
    expect((await call('POST', `/clusters/${NAME}/apply`, { plan_id: id })).status).toBe(202);
    const c = await waitFor(`plan ${id} to finish`, async () => {
      const c = (await call('GET', `/clusters/${NAME}`)).json;
      return c.applying_plan === id ? null : c;
    }, 900_000, 1000);
    if (c.state === 'failed') throw new Error(`plan ${id} failed: ${JSON.stringify(c)}\n${diagnosis()}`);
    return c;
  }
  /** What the VMs' startup scripts and node containers printed, for a failed apply. */
  function diagnosis(): string {
    const logs = path.join(vmDir, 'agents');
    const scripts = existsSync(logs) ? readdirSync(logs).map((f) => `--- ${f}\n${readFileSync(path.join(logs, f), 'utf8').slice(-3000)}`) : [];
    const containers = execFileSync('docker', ['ps', '-aq', '--filter', `network=${dockerNetwork}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const nodeLogs = containers.map((id) => `--- container ${id}\n${spawnSync('docker', ['logs', '--tail', '40', id], { encoding: 'utf8' }).stderr}`);
    return [...scripts, ...nodeLogs].join('\n');
  }
  async function on(node: string, script: string): Promise<string> {
    const r = await nodes.exec(NAME, node, script, { timeoutMs: 600_000 });
    if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  beforeAll(async () => {
    execFileSync('docker', ['network', 'create', '--subnet', `${prefix}.0/24`, '--label', `hail-batch.test=${deployment}`, dockerNetwork]);
    cloud = await clouds[cloudName](vmDir, { dockerNetwork, prefix });
    const env = { ...cloud.env, HB_DEPLOYMENT: deployment, HB_CLUSTER_DEPLOYMENT: deployment };
    s = await startProcessService({ name: `clusters-${cloudName}`, executor: 'process', pools: 'standard:0', env });
    await s.start('api');
    await s.start('driver');
    nodes = createClusterNodeDriver(loadConfig(env), s.database.db);
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
    await cloud?.close();
    for (const c of execFileSync('docker', ['ps', '-aq', '--filter', `network=${dockerNetwork}`], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      execFileSync('docker', ['rm', '-f', c]);
    }
    execFileSync('docker', ['volume', 'rm', '-f', `${dockerNetwork}-${NAME}-tmp`]);
    execFileSync('docker', ['network', 'rm', dockerNetwork]);
    rmSync(vmDir, { recursive: true, force: true });
  }, 180_000);

  it('creates 1 master + 1 worker as VMs of the node shapes, runs Hail and Jupyter on them, and destroys them', async () => {
    const image = await buildClusterImage(call, IMAGE);
    expect(image.state).toBe('built');

    const c = await apply('create', { image: IMAGE, workers: 1, master: { cores: 2, memory_gib: 4 }, worker: { cores: 1, memory_gib: 3 } });
    expect(c).toMatchObject({ state: 'running', spark: { alive_workers: 1 } });
    const vms = cloud.vms().sort((a, b) => a.name.localeCompare(b.name));
    expect(vms.map((v) => v.name)).toEqual([`hbc-${deployment}-${NAME}-master`, `hbc-${deployment}-${NAME}-worker-1`]);
    for (const v of vms) expect(v.labels).toMatchObject({ [NODE_LABELS.deployment]: deployment, [NODE_LABELS.cluster]: NAME });
    // Sizes of the node shapes: GCE custom types, Azure's smallest D/E size that holds them.
    expect(vms.map((v) => v.size.split('/').pop())).toEqual(cloudName === 'gcp' ? ['custom-2-4096', 'custom-1-3072'] : ['Standard_D2s_v5', 'Standard_D2s_v5']);
    // The batch autoscaler's view of the cloud never includes a node (its orphan sweep would delete it).
    expect(vms.every((v) => !('hail-batch-deployment' in v.labels))).toBe(true);

    const out = await on(
      `${NAME}-master`,
      `python3 - <<'PY'\nimport os, hail as hl, pyspark\nhl.init(sc=pyspark.SparkContext(), tmp_dir=os.environ["HAIL_HOME"] + "/tmp", quiet=True)\nprint("COUNT", hl.utils.range_table(1000).count())\nPY`,
    );
    expect(out).toContain('COUNT 1000');
    // The shared tmp: written on the worker, read on the master.
    await on(`${NAME}-worker-1`, 'echo from-worker > $HAIL_HOME/tmp/shared.txt');
    expect(await on(`${NAME}-master`, 'cat $HAIL_HOME/tmp/shared.txt; id -un')).toBe('from-worker\nhail\n');

    // Jupyter on the master, through the service's proxy for a signed-in member only.
    expect((await fetch(`${s.url}/clusters/${NAME}/jupyter/api/status`)).status).toBe(401);
    expect((await s.api(`/clusters/${NAME}/jupyter/api/status`)).status).toBe(200);
    // The exec door refuses anyone without the cluster's secret.
    const jupyter = await nodes.jupyterUrl(NAME, `${NAME}-master`);
    expect(jupyter).toMatch(new RegExp(`^http://${prefix.replace(/\./g, '\\.')}\\.\\d+:8888$`));
    const door = `${jupyter!.replace(/:8888$/, ':8099')}/exec`;
    const forged = await fetch(door, { method: 'POST', headers: { authorization: 'Bearer not-the-secret' }, body: JSON.stringify({ script: 'id' }) });
    expect(forged.status).toBe(401);
    expect((await fetch(door, { method: 'POST', body: JSON.stringify({ script: 'id' }) })).status).toBe(401);
    const status = (await call('GET', `/clusters/${NAME}`)).json;
    expect(status.login_command).toEqual(expect.arrayContaining([cloudName === 'gcp' ? 'gcloud' : 'az', `hbc-${deployment}-${NAME}-master`]));

    const gone = await apply('destroy');
    expect(gone.state).toBe('destroyed');
    expect(cloud.resources().filter((r) => r.includes(`hbc-${deployment}`))).toEqual([]);
    for (const v of vms) expect(containersOf(v.name)).toEqual([]);
  }, 3_600_000);
});
