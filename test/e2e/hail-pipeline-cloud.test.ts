/**
 * A `hailtop.batch` pipeline, client unchanged, on "GCS" and on "Azure Blob Storage": the
 * client talks to the clouds' public host names itself (storage.googleapis.com and
 * www.googleapis.com; <account>.blob.core.windows.net and login.microsoftonline.com), which
 * for its process alone resolve to the emulators (a private mount namespace with its own
 * /etc/hosts) serving certificates from a CA made for this run that only that process trusts
 * (SSL_CERT_FILE). The client signs in as the user (a Google service account key; an Azure
 * service principal), and the service's agents copy the jobs' cloud files with the same
 * user's identity (HB_USER_CREDENTIALS_DIR). Docker executor: the jobs' commands use /io as
 * Hail writes them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAIL_PYTHON, startAzureHttps } from '../support/azure-https';
import { createBucket, startGcsEmulator } from '../support/emulators/gcs';
import { startTestService, type TestService } from '../support/service';
import { makeTestCa } from '../support/test-ca';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'test', 'hail-client', 'pipeline.py');
const NUMBERS = Array.from({ length: 10 }, (_, i) => `${i + 1}\n`).join('');

/** One cloud as the pipeline meets it. */
type PipelineCloud = {
  /** The service's settings (object store, where users' identities lie, storage endpoints). */
  serviceEnv: Record<string, string>;
  /** The client's own: its credentials and the CA it trusts. */
  clientEnv: Record<string, string>;
  /** /etc/hosts lines for the client's process. */
  hosts: string;
  /** remote_tmpdir, the input's URL and the outputs' prefix. */
  tmpdir: string;
  input: string;
  output: string;
  /** Names of the objects under the remote_tmpdir, read with the user's own rights. */
  scratch(): Promise<string[]>;
  /** An output written by write_output, read from the cloud. */
  readOutput(name: string): Promise<string | null>;
  /** Whether the client signed in to the cloud's identity service as the user. */
  clientSignedIn(): Promise<boolean>;
  stop(): Promise<void>;
};

/** A loopback address of this test's own, so port 443 on it is free whatever else runs. */
const GOOGLE_IP = '127.43.0.1';
const GOOGLE_HOSTS = ['storage.googleapis.com', 'www.googleapis.com', 'oauth2.googleapis.com'];

async function gcsCloud(work: string, identities: string): Promise<PipelineCloud> {
  const ca = makeTestCa(path.join(work, 'ca'), GOOGLE_HOSTS);
  const gcs = await startGcsEmulator({ dir: path.join(work, 'gcs'), port: 9448, tls: { key: ca.key, cert: ca.cert, host: GOOGLE_IP, port: 443 } });
  await createBucket(gcs.dir, 'hb-logs');
  await createBucket(gcs.dir, 'alice-data');
  const key = gcs.iam.createServiceAccount('alice-batch');
  gcs.iam.grant('alice-data', key.client_email);
  await mkdir(path.join(identities, 'alice'), { recursive: true });
  await writeFile(path.join(identities, 'alice', 'gcp-key.json'), JSON.stringify(key), { mode: 0o600 });
  const keyFile = path.join(work, 'client-key.json');
  await writeFile(keyFile, JSON.stringify(key), { mode: 0o600 });

  const storage = new Storage({ credentials: key, apiEndpoint: gcs.url, useAuthWithCustomEndpoint: true, projectId: 'test' });
  (storage.authClient as { useJWTAccessWithScope?: boolean }).useJWTAccessWithScope = true;
  const bucket = storage.bucket('alice-data');
  await bucket.file('in/numbers.txt').save(NUMBERS, { resumable: false });
  return {
    serviceEnv: { HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs', HB_GCS_API_ENDPOINT: gcs.url, HB_GCS_PROJECT: 'test' },
    clientEnv: { GOOGLE_APPLICATION_CREDENTIALS: keyFile, SSL_CERT_FILE: ca.caPath },
    hosts: `${GOOGLE_IP} ${GOOGLE_HOSTS.join(' ')}\n`,
    tmpdir: 'gs://alice-data/tmp',
    input: 'gs://alice-data/in/numbers.txt',
    output: 'gs://alice-data/results',
    scratch: async () => (await bucket.getFiles({ prefix: 'tmp/' }))[0].map((f) => f.name),
    readOutput: async (name) => (await bucket.file(`results/${name}`).download())[0].toString(),
    async clientSignedIn() {
      const iam = JSON.parse(await readFile(path.join(work, 'gcs', 'iam.json'), 'utf8')) as { tokens: Record<string, { email: string }> };
      return Object.values(iam.tokens).some((t) => t.email === key.client_email);
    },
    stop: () => gcs.stop(),
  };
}

async function azureCloud(work: string, identities: string): Promise<PipelineCloud> {
  const alice = { account: 'aliceacct', key: Buffer.from('alice-key-'.repeat(4)).toString('base64') };
  // The user's account where the client reaches it by its public name, over HTTPS, with
  // bearer tokens; the deployment's own (logs) beside it.
  const az = await startAzureHttps({ dir: path.join(work, 'azure-https'), net: '127.44.0', accounts: [alice], ownPort: 10_049 });
  await az.blobs.mkcontainer(alice, 'data');
  await az.blobs.put(alice, 'data', 'in/numbers.txt', NUMBERS);
  const sp = az.addUserPrincipal(identities, 'alice', alice.account);
  // What `az ad sp create-for-rbac` prints, as hailtop reads it.
  const spFile = path.join(work, 'client-sp.json');
  await writeFile(spFile, JSON.stringify({ appId: sp.appId, password: sp.password, tenant: sp.tenant }), { mode: 0o600 });
  const base = `https://${alice.account}.blob.core.windows.net/data`;
  return {
    serviceEnv: az.serviceEnv,
    clientEnv: { AZURE_APPLICATION_CREDENTIALS: spFile, SSL_CERT_FILE: az.ca.caPath },
    hosts: az.hosts.map((h) => `${h.ip} ${h.names.join(' ')}\n`).join(''),
    tmpdir: `${base}/tmp`,
    input: `${base}/in/numbers.txt`,
    output: `${base}/results`,
    scratch: () => az.blobs.list(alice, 'data', 'tmp/'),
    readOutput: (name) => az.blobs.get(alice, 'data', `results/${name}`),
    clientSignedIn: async () => az.entra.issued.some((t) => t.appId === sp.appId && t.client.includes('azsdk-python-identity')),
    stop: () => az.stop(),
  };
}

describe.each([
  ['GCS', gcsCloud],
  ['Azure Blob Storage', azureCloud],
] as const)('a hailtop.batch pipeline on %s, client unchanged', (label, makeCloud) => {
  let work: string;
  let cloud: PipelineCloud;
  let s: TestService;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'hb-hail-pipeline-'));
    const identities = path.join(work, 'identities');
    cloud = await makeCloud(work, identities);
    const env = { ...cloud.serviceEnv, HB_USER_CREDENTIALS_DIR: identities };
    // The local driver's agents inherit this process's environment.
    Object.assign(process.env, env);
    s = await startTestService({ name: `hail_pipeline_${label === 'GCS' ? 'gcs' : 'azure'}`, executor: 'docker', pools: 'standard:2', env });
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
    for (const k of Object.keys(cloud?.serviceEnv ?? {})) delete process.env[k];
    await cloud?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Runs pipeline.py as a scientist would, with the cloud's host names pointing at the emulators. */
  async function runPipeline(): Promise<Record<string, any>> {
    const home = path.join(work, 'home');
    await mkdir(home, { recursive: true });
    const tokens = path.join(home, 'tokens.json');
    await writeFile(tokens, JSON.stringify({ default: s.token }));
    const hosts = path.join(work, 'hosts');
    await writeFile(hosts, `127.0.0.1 localhost\n${cloud.hosts}`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      PYTHONUNBUFFERED: '1',
      HAIL_TERRA: '1',
      // 'gce': hailtop's location for a client on the deployment's own network, which reaches
      // the service over plain http (the test service has no TLS).
      HAIL_LOCATION: 'gce',
      HAIL_DOMAIN: new URL(s.url).host,
      HAIL_TOKENS_FILE: tokens,
      ...cloud.clientEnv,
      HB_BILLING_PROJECT: s.billingProject,
      HB_REMOTE_TMPDIR: cloud.tmpdir,
      HB_INPUT: cloud.input,
      HB_OUTPUT: cloud.output,
      HB_IMAGE: 'hail-batch-busybox:latest',
    };
    // unshare -m: a mount namespace of the client's own, where /etc/hosts is the file above.
    const args = ['-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, HAIL_PYTHON, SCRIPT];
    return new Promise((resolve, reject) => {
      execFile('unshare', args, { env, timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`pipeline.py failed (${err.code ?? err.signal}):\n${stderr}\n--- stdout ---\n${stdout}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, any>);
        } catch {
          reject(new Error(`pipeline.py printed no JSON summary:\n${stdout}\n--- stderr ---\n${stderr}`));
        }
      });
    });
  }

  it('runs six jobs with a fan-in, passing files through the cloud, and reads the outputs back', async () => {
    const out = await runPipeline();
    expect(out.state, JSON.stringify(out.jobs)).toBe('success');
    expect(out.n_jobs).toBe(6);
    expect(out.jobs.map((j: { name: string }) => j.name).sort()).toEqual(['check', 'part-0', 'part-1', 'part-2', 'report', 'total']);
    for (const j of out.jobs) expect(j).toMatchObject({ state: 'Success', exit_code: 0 });
    expect(out.total).toBe('55\n');
    expect(out.report).toBe('lines=10 total=55\n');

    // The files really went through the cloud: the jobs' intermediate files in the backend's
    // remote_tmpdir, the outputs where write_output put them; and the client signed in as the user.
    const scratch = await cloud.scratch();
    // The files another job reads: the three partial sums and the total (report's goes only to results/).
    expect(scratch.filter((n) => n.endsWith('/ofile')).length, scratch.join('\n')).toBe(4);
    expect(await cloud.readOutput('report.txt')).toBe('lines=10 total=55\n');
    expect(await cloud.clientSignedIn()).toBe(true);
  }, 300_000);
});
