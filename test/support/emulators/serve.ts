/**
 * The emulated clouds on their own, for `npm start` with HB_CLOUD=gcp or azure on a laptop:
 *
 *   npx tsx test/support/emulators/serve.ts gcp|azure [--data-dir .data] [--executor process|docker]
 *
 * GCP: Compute Engine (two zones, their quotas and list prices) and Cloud Storage (the
 * deployment's bucket `hb-logs`, and `dev-data`, which only the dev user's service account
 * may use). Azure: Resource Manager (two locations) and Blob Storage (Azurite: the
 * deployment's container `hb-logs` in the development account, and the dev user's own account
 * `devacct` with container `data`; over HTTPS with a CA made for it, taking the bearer tokens of
 * the workers' managed identity, which the emulated VMs' IMDS hands out; the settings carry
 * NODE_EXTRA_CA_CERTS so the service trusts it). The dev user's identity goes to
 * `<data dir>/user-identities/dev/`. Every VM the driver creates boots the startup script it
 * was given and runs a real agent, whose logs land in the data directory as on a VM.
 *
 * Writes the settings the service needs to `<data dir>/emulated-<cloud>.env` (one
 * `NAME=value` per line, for `env $(cat …) npm start`) and prints them. Then reads commands
 * on stdin, one per line:
 *   vms             the VMs and their states
 *   preempt [name]  the cloud reclaims that spot VM (default: the oldest running one)
 * and prints `preempted <name>` or `vm <name> <state> <location>` lines. Ctrl-C stops it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startArmEmulator } from './arm';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from './azurite';
import { startGceEmulator } from './gce';
import { createBucket, startGcsEmulator } from './gcs';
import { makeTestCa } from '../test-ca';

type Running = { env: Record<string, string>; vms(): { name: string; state: string; location: string }[]; preempt(name: string): Promise<void>; stop(): Promise<void> };

const USAGE = 'usage: serve.ts gcp|azure [--data-dir DIR] [--executor process|docker]';

function parseArgs(argv: string[]): { cloud: 'gcp' | 'azure'; dataDir: string; executor: 'process' | 'docker' } {
  const [cloud, ...rest] = argv;
  if (cloud !== 'gcp' && cloud !== 'azure') throw new Error(USAGE);
  let dataDir = '.data';
  let executor: 'process' | 'docker' = 'process';
  for (let i = 0; i < rest.length; i += 2) {
    const v = rest[i + 1];
    if (rest[i] === '--data-dir' && v) dataDir = v;
    else if (rest[i] === '--executor' && (v === 'process' || v === 'docker')) executor = v;
    else throw new Error(USAGE);
  }
  return { cloud, dataDir: path.resolve(dataDir), executor };
}

async function serveGcp(dataDir: string, executor: 'process' | 'docker'): Promise<Running> {
  const project = 'hail-batch-emulated';
  const gce = await startGceEmulator({ project, zones: [{ zone: 'us-central1-a', cpusQuota: 64 }, { zone: 'us-central1-b', cpusQuota: 64 }], dataDir, executor, port: 9470 });
  const gcs = await startGcsEmulator({ dir: path.join(dataDir, 'emulated-gcs'), port: 9471 });
  await createBucket(gcs.dir, 'hb-logs');
  await createBucket(gcs.dir, 'dev-data');
  const key = gcs.iam.createServiceAccount('dev-batch', project);
  gcs.iam.grant('dev-data', key.client_email);
  const identities = path.join(dataDir, 'user-identities');
  mkdirSync(path.join(identities, 'dev'), { recursive: true });
  writeFileSync(path.join(identities, 'dev', 'gcp-key.json'), JSON.stringify(key), { mode: 0o600 });
  return {
    env: {
      HB_CLOUD: 'gcp',
      HB_GCP_PROJECT: project,
      HB_GCP_ZONES: 'us-central1-a,us-central1-b',
      HB_GCP_API_ENDPOINT: gce.url,
      HB_DEPLOYMENT: 'emulated',
      HB_OBJECT_STORE: 'gcs',
      HB_GCS_BUCKET: 'hb-logs',
      HB_GCS_API_ENDPOINT: gcs.url,
      HB_GCS_PROJECT: project,
      HB_USER_CREDENTIALS_DIR: identities,
    },
    vms: () => gce.instances().map((i) => ({ name: i.name, state: i.status, location: i.zone })),
    preempt: (name) => gce.preempt(name),
    async stop() {
      await gce.close();
      await gcs.stop();
    },
  };
}

async function serveAzure(dataDir: string, executor: 'process' | 'docker'): Promise<Running> {
  const subscriptionId = '00000000-0000-4000-8000-0000000000e1';
  const resourceGroup = 'hail-batch-emulated';
  const arm = await startArmEmulator({ subscriptionId, resourceGroup, locations: [{ location: 'eastus', coresQuota: 64 }, { location: 'westus2', coresQuota: 64 }], dataDir, executor, port: 9472 });
  const dev = { account: 'devacct', key: Buffer.from('dev-account-key-'.repeat(2)).toString('base64') };
  const caDir = path.join(dataDir, 'emulated-ca');
  const azurite = await startAzurite({
    dir: path.join(dataDir, 'emulated-azurite'),
    port: 9473,
    accounts: [dev],
    tls: { keyPath: path.join(caDir, 'server.key'), certPath: path.join(caDir, 'server.pem') },
    oauth: true,
  });
  const endpoint = `https://127.0.0.1:${azurite.port}/{account}`;
  await new BlobServiceClient(azurite.blobUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient('hb-logs').createIfNotExists();
  await new BlobServiceClient(endpoint.replace('{account}', dev.account), new StorageSharedKeyCredential(dev.account, dev.key)).getContainerClient('data').createIfNotExists();
  const identities = path.join(dataDir, 'user-identities');
  mkdirSync(path.join(identities, 'dev'), { recursive: true });
  writeFileSync(path.join(identities, 'dev', 'azure.json'), JSON.stringify({ type: 'shared_key', ...dev }), { mode: 0o600 });
  return {
    env: {
      ...arm.driverEnv('emulated'),
      HB_OBJECT_STORE: 'azure',
      HB_AZURE_STORAGE_CONTAINER: 'hb-logs',
      HB_AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      HB_AZURE_BLOB_ENDPOINT: endpoint,
      HB_AZURE_WORKER_IDENTITY: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/batch-worker`,
      HB_USER_CREDENTIALS_DIR: identities,
      NODE_EXTRA_CA_CERTS: path.join(caDir, 'ca.pem'),
    },
    vms: () => arm.resources().filter((r) => r.kind === 'vm').map((r) => ({ name: r.name, state: String((r.body as { properties?: { provisioningState?: string } }).properties?.provisioningState ?? 'unknown'), location: r.location })),
    preempt: (name) => arm.preempt(name),
    async stop() {
      await arm.close();
      await azurite.stop();
    },
  };
}

/**
 * Azure's storage is reached over HTTPS with the CA made here, which Node trusts only from
 * NODE_EXTRA_CA_CERTS at start: so the CA is made first and this process runs again with it
 * (its VMs' agents inherit it). False when this is the process to go on.
 */
function relaunchedWithCa(cloud: string, dataDir: string): boolean {
  if (cloud !== 'azure') return false;
  const caDir = path.join(dataDir, 'emulated-ca');
  const caPath = path.join(caDir, 'ca.pem');
  if (process.env.NODE_EXTRA_CA_CERTS === caPath) return false;
  // Made anew on every start: the certificates are short-lived.
  makeTestCa(caDir, ['localhost', '127.0.0.1']);
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 1));
  return true;
}

async function main(): Promise<void> {
  const { cloud, dataDir, executor } = parseArgs(process.argv.slice(2));
  mkdirSync(dataDir, { recursive: true });
  if (relaunchedWithCa(cloud, dataDir)) return;
  const running = cloud === 'gcp' ? await serveGcp(dataDir, executor) : await serveAzure(dataDir, executor);
  const envFile = path.join(dataDir, `emulated-${cloud}.env`);
  const lines = Object.entries({ ...running.env, HB_DATA_DIR: dataDir }).map(([k, v]) => `${k}=${v}`);
  writeFileSync(envFile, lines.join('\n') + '\n');
  process.stdout.write(`emulated ${cloud} is up; settings in ${envFile}:\n${lines.map((l) => `  ${l}`).join('\n')}\nstart the service with: env $(cat ${envFile}) npm start\ncommands: vms | preempt [name]\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 10_000).unref();
    await running.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    void (async () => {
      if (cmd === 'vms') {
        for (const vm of running.vms()) process.stdout.write(`vm ${vm.name} ${vm.state} ${vm.location}\n`);
        process.stdout.write('end\n');
      } else if (cmd === 'preempt') {
        const name = arg ?? running.vms()[0]?.name;
        if (!name) return void process.stdout.write('error no VM to preempt\n');
        await running.preempt(name);
        process.stdout.write(`preempted ${name}\n`);
      } else if (cmd) process.stdout.write(`error unknown command ${cmd} (vms | preempt [name])\n`);
    })().catch((err: unknown) => process.stdout.write(`error ${(err as Error).message}\n`));
  });
  // Standing input closed (run in the background): keep serving until a signal.
  rl.on('close', () => undefined);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
