/**
 * `npm start`'s service on an emulated cloud, as the README's "Trying the cloud drivers"
 * section runs it: `test/support/emulators/serve.ts gcp|azure` in one process, the service
 * (`cli/main.ts local`, its own Temporal dev server) with the settings that wrote, in another.
 * A 50-job batch runs on VMs the autoscaler creates from none; one spot VM is reclaimed by the
 * cloud under a running job, which runs again elsewhere; the logs and a job's output file are in
 * the emulated bucket / container (on Azure written by the agents as the workers' managed
 * identity); once idle, the VMs are deleted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { killProcessesOf } from '../support/agents';
import { pythonBlobs } from '../support/azure-https';
import { AZURITE_ACCOUNT, AZURITE_KEY } from '../support/emulators/azurite';
import { createTestDatabase, type TestDatabase } from '../support/db-url';
import { job, waitFor } from '../support/service';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const SERVE = fileURLToPath(new URL('../support/emulators/serve.ts', import.meta.url));
const N = 50;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** serve.ts, with its command line on stdin and its answers read back line by line. */
function serve(cloud: string, dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVE, cloud, '--data-dir', dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    output: () => out,
    /** Sends a command and returns the lines it printed up to `until`. */
    async command(line: string, until: RegExp): Promise<string> {
      const from = out.length;
      child.stdin!.write(`${line}\n`);
      await waitFor(`serve.ts to answer ${line}`, async () => until.test(out.slice(from)), 30_000, 100);
      return out.slice(from);
    },
  };
}

/** The objects of the deployment's own bucket / container, read the way an operator would. */
async function storedObjects(cloud: 'gcp' | 'azure', env: Record<string, string>): Promise<string[]> {
  if (cloud === 'gcp') {
    const res = await fetch(`${env.HB_GCS_API_ENDPOINT}/storage/v1/b/hb-logs/o`);
    return (((await res.json()) as { items?: { name: string }[] }).items ?? []).map((o) => o.name);
  }
  // Over HTTPS with the emulators' CA, which this process does not trust: through Python.
  return pythonBlobs(env.NODE_EXTRA_CA_CERTS!, env.HB_AZURE_BLOB_ENDPOINT!).list({ account: AZURITE_ACCOUNT, key: AZURITE_KEY }, 'hb-logs', '');
}

/** The dev user's output file, read with the dev user's own identity. */
async function devOutput(cloud: 'gcp' | 'azure', env: Record<string, string>): Promise<string | null> {
  if (cloud === 'gcp') {
    const { Storage } = await import('@google-cloud/storage');
    const key = JSON.parse(await readFile(path.join(env.HB_USER_CREDENTIALS_DIR!, 'dev', 'gcp-key.json'), 'utf8'));
    const storage = new Storage({ credentials: key, apiEndpoint: env.HB_GCS_API_ENDPOINT, useAuthWithCustomEndpoint: true, projectId: env.HB_GCS_PROJECT });
    (storage.authClient as { useJWTAccessWithScope?: boolean }).useJWTAccessWithScope = true;
    const file = storage.bucket('dev-data').file('out/first.txt');
    return (await file.exists())[0] ? (await file.download())[0].toString() : null;
  }
  const ident = JSON.parse(await readFile(path.join(env.HB_USER_CREDENTIALS_DIR!, 'dev', 'azure.json'), 'utf8')) as { account: string; key: string };
  return pythonBlobs(env.NODE_EXTRA_CA_CERTS!, env.HB_AZURE_BLOB_ENDPOINT!).get(ident, 'data', 'out/first.txt');
}

describe.each(['gcp', 'azure'] as const)('npm start with HB_CLOUD=%s on the emulated cloud', (cloud) => {
  let dataDir = '';
  let emulators: ReturnType<typeof serve> | undefined;
  let service: ChildProcess | undefined;
  let tdb: TestDatabase | undefined;

  afterEach(async () => {
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service!.once('exit', r));
      process.kill(-service.pid!, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (service.exitCode === null) process.kill(-service.pid!, 'SIGKILL');
    }
    if (emulators && emulators.child.exitCode === null) {
      const exited = new Promise((r) => emulators!.child.once('exit', r));
      emulators.child.kill('SIGTERM');
      await exited;
    }
    if (dataDir) {
      killProcessesOf(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
    await tdb?.drop();
  });

  it('autoscales from none, survives a preemption, keeps logs and outputs in the cloud, deletes idle VMs', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), `hb-start-${cloud}-`));
    emulators = serve(cloud, dataDir);
    const envFile = path.join(dataDir, `emulated-${cloud}.env`);
    await waitFor(`serve.ts ${cloud}`, async () => existsSync(envFile) || emulators!.child.exitCode !== null, 60_000, 200);
    expect(emulators.child.exitCode, emulators.output()).toBeNull();
    const cloudEnv = Object.fromEntries(
      (await readFile(envFile, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;

    tdb = await createTestDatabase(`npm_start_${cloud}`);
    const [apiPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    const out = openSync(path.join(dataDir, 'local.out'), 'a');
    service = spawn(process.execPath, ['--import', 'tsx', CLI, 'local'], {
      env: {
        ...process.env,
        ...cloudEnv,
        DATABASE_URL: tdb.url,
        HB_API_PORT: String(apiPort),
        HB_DRIVER_METRICS_PORT: '0',
        TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
        HB_TEMPORAL_UI_PORT: String(uiPort),
        HB_TEMPORAL_CLI: inject('temporalCliPath'),
        HB_EXECUTOR: 'process',
        // From none to two VMs of 4 cores, as the autoscaler decides.
        HB_LOCAL_POOLS: 'standard:0-2',
        HB_AUTOSCALER_LOOP_MS: '1000',
        HB_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    const credsFile = path.join(dataDir, 'dev-credentials.json');
    await waitFor('the service', async () => existsSync(credsFile) || service!.exitCode !== null, 180_000, 250);
    expect(service.exitCode, await readFile(path.join(dataDir, 'local.out'), 'utf8')).toBeNull();
    const creds = JSON.parse(await readFile(credsFile, 'utf8')) as { url: string; token: string; billing_project: string };
    const api = (p: string, init: { method?: string; json?: unknown } = {}) =>
      fetch(`${creds.url}${p}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${creds.token}`, 'content-type': 'application/json' },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      });
    // Idle VMs go after 5 s, so the test sees them go.
    expect((await api('/api/v1alpha/pools/standard', { method: 'PATCH', json: { worker_max_idle_time_secs: 5 } })).status).toBe(200);

    const marker = path.join(dataDir, 'preempted-once');
    const devData = cloud === 'gcp' ? 'gs://dev-data' : `https://devacct.blob.core.windows.net/data`;
    const res = await api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      json: {
        batch: { billing_project: creds.billing_project, n_jobs: N + 1, token: `start-${cloud}-${Date.now()}` },
        bunch: [
          job(1, ['sh', '-c', 'echo first > first.txt; echo ran-1'], { output_files: [{ from: '/io/first.txt', to: `${devData}/out/first.txt` }] }),
          ...Array.from({ length: N - 1 }, (_, i) => job(i + 2, ['sh', '-c', `echo ran-${i + 2}`])),
          // Long enough to be reclaimed the first time, done at once the second.
          job(N + 1, ['sh', '-c', `if [ -f ${marker} ]; then echo again; exit 0; fi; touch ${marker}; sleep 300`]),
        ],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const id = ((await res.json()) as { id: number }).id;

    await waitFor('the slow job to run', async () => existsSync(marker), 180_000, 250);
    const attempts = async () => (await (await api(`/api/v1alpha/batches/${id}/jobs/${N + 1}/attempts`)).json()) as { instance_name: string }[];
    const [first] = await attempts();
    const vmsBefore = await emulators.command('vms', /^end$/m);
    expect(vmsBefore).toContain(`vm ${first!.instance_name} `);
    expect(await emulators.command(`preempt ${first!.instance_name}`, /^(preempted|error) .*$/m)).toContain(`preempted ${first!.instance_name}`);

    await waitFor(
      'the batch to finish',
      async () => ((await (await api(`/api/v1alpha/batches/${id}`)).json()) as { complete: boolean }).complete,
      300_000,
      500,
    );
    const batch = (await (await api(`/api/v1alpha/batches/${id}`)).json()) as { state: string; n_succeeded: number };
    expect(batch).toMatchObject({ state: 'success', n_succeeded: N + 1 });
    const tried = await attempts();
    expect(tried.length).toBeGreaterThanOrEqual(2);
    expect(tried.at(-1)!.instance_name).not.toBe(first!.instance_name);

    // Logs through the API, and kept in the deployment's bucket / container.
    const log = (await (await api(`/api/v1alpha/batches/${id}/jobs/1/log`)).json()) as Record<string, string>;
    expect(log.main).toContain('ran-1');
    const stored = await storedObjects(cloud, cloudEnv);
    expect(stored.some((n) => n.includes(`${id}`) && n.includes('main')), stored.slice(0, 20).join('\n')).toBe(true);
    // The output file, copied with the dev user's own identity.
    expect(await devOutput(cloud, cloudEnv)).toBe('first\n');

    // Nothing left to run: the autoscaler deletes the idle VMs, and the cloud has none.
    await waitFor('the idle VMs to be deleted', async () => !/^vm /m.test(await emulators!.command('vms', /^end$/m)), 120_000, 1000);
  }, 600_000);
});
