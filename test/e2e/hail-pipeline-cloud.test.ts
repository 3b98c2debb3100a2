/**
 * A `hailtop.batch` pipeline, client unchanged, on "GCS": the client talks to
 * https://storage.googleapis.com and https://www.googleapis.com itself, which for its process
 * alone resolve to the emulator (a private mount namespace with its own /etc/hosts) serving a
 * certificate from a CA made for this run that only that process trusts (SSL_CERT_FILE). The
 * client signs in to "Google" with the user's service account key; the service's agents copy
 * the jobs' gs:// files with the same user's key (HB_USER_CREDENTIALS_DIR). Docker executor:
 * the jobs' commands use /io as Hail writes them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, startGcsEmulator, type GcsEmulator } from '../support/emulators/gcs';
import type { ServiceAccountKey } from '../support/emulators/gcs-iam';
import { startTestService, type TestService } from '../support/service';
import { makeTestCa } from '../support/test-ca';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = path.join(ROOT, '.tools', 'hail-venv', 'bin', 'python');
const SCRIPT = path.join(ROOT, 'test', 'hail-client', 'pipeline.py');
/** A loopback address of this test's own, so port 443 on it is free whatever else runs. */
const GOOGLE_IP = '127.43.0.1';
const GOOGLE_HOSTS = ['storage.googleapis.com', 'www.googleapis.com', 'oauth2.googleapis.com'];

let work: string;
let gcs: GcsEmulator;
let s: TestService;
let key: ServiceAccountKey;
/** alice-data as alice's own service account sees it. */
let bucket: ReturnType<Storage['bucket']>;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash scripts/setup.sh --test`);
  work = await mkdtemp(path.join(os.tmpdir(), 'hb-hail-pipeline-'));
  const ca = makeTestCa(path.join(work, 'ca'), GOOGLE_HOSTS);
  gcs = await startGcsEmulator({ dir: path.join(work, 'gcs'), port: 9448, tls: { key: ca.key, cert: ca.cert, host: GOOGLE_IP, port: 443 } });
  await createBucket(gcs.dir, 'hb-logs');
  await createBucket(gcs.dir, 'alice-data');
  key = gcs.iam.createServiceAccount('alice-batch');
  gcs.iam.grant('alice-data', key.client_email);
  const identities = path.join(work, 'identities');
  await mkdir(path.join(identities, 'alice'), { recursive: true });
  await writeFile(path.join(identities, 'alice', 'gcp-key.json'), JSON.stringify(key), { mode: 0o600 });

  const storage = new Storage({ credentials: key, apiEndpoint: gcs.url, useAuthWithCustomEndpoint: true, projectId: 'test' });
  (storage.authClient as { useJWTAccessWithScope?: boolean }).useJWTAccessWithScope = true;
  bucket = storage.bucket('alice-data');
  await bucket.file('in/numbers.txt').save(Array.from({ length: 10 }, (_, i) => `${i + 1}\n`).join(''), { resumable: false });

  const env = { HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs', HB_GCS_API_ENDPOINT: gcs.url, HB_GCS_PROJECT: 'test', HB_USER_CREDENTIALS_DIR: identities };
  Object.assign(process.env, env);
  s = await startTestService({ name: 'hail_pipeline_cloud', executor: 'docker', pools: 'standard:2', env });
}, 180_000);
afterAll(async () => {
  await s?.stop();
  await gcs?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs pipeline.py as a scientist would, with Google's host names pointing at the emulator. */
async function runPipeline(): Promise<Record<string, any>> {
  const home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  const tokens = path.join(home, 'tokens.json');
  await writeFile(tokens, JSON.stringify({ default: s.token }));
  const keyFile = path.join(home, 'key.json');
  await writeFile(keyFile, JSON.stringify(key), { mode: 0o600 });
  const hosts = path.join(work, 'hosts');
  await writeFile(hosts, `127.0.0.1 localhost\n${GOOGLE_IP} ${GOOGLE_HOSTS.join(' ')}\n`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    PYTHONUNBUFFERED: '1',
    HAIL_TERRA: '1',
    HAIL_LOCATION: 'gce',
    HAIL_DOMAIN: new URL(s.url).host,
    HAIL_TOKENS_FILE: tokens,
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    SSL_CERT_FILE: path.join(work, 'ca', 'ca.pem'),
    HB_BILLING_PROJECT: s.billingProject,
    HB_REMOTE_TMPDIR: 'gs://alice-data/tmp',
    HB_INPUT: 'gs://alice-data/in/numbers.txt',
    HB_OUTPUT: 'gs://alice-data/results',
    HB_IMAGE: 'hail-batch-busybox:latest',
  };
  // unshare -m: a mount namespace of the client's own, where /etc/hosts is the file above.
  const args = ['-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, PYTHON, SCRIPT];
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

describe('a hailtop.batch pipeline on cloud storage, client unchanged', () => {
  it('runs six jobs with a fan-in, passing files through the bucket, and reads the outputs back', async () => {
    const out = await runPipeline();
    expect(out.state, JSON.stringify(out.jobs)).toBe('success');
    expect(out.n_jobs).toBe(6);
    expect(out.jobs.map((j: { name: string }) => j.name).sort()).toEqual(['check', 'part-0', 'part-1', 'part-2', 'report', 'total']);
    for (const j of out.jobs) expect(j).toMatchObject({ state: 'Success', exit_code: 0 });
    expect(out.total).toBe('55\n');
    expect(out.report).toBe('lines=10 total=55\n');

    // The files really went through the bucket: the jobs' intermediate files in the backend's
    // remote_tmpdir, the outputs where write_output put them; and the client signed in to
    // "Google" through the token endpoint.
    const [scratch] = await bucket.getFiles({ prefix: 'tmp/' });
    // The files another job reads: the three partial sums and the total (report's goes only to results/).
    expect(scratch.map((f) => f.name).filter((n) => n.endsWith('/ofile')).length).toBe(4);
    expect((await bucket.file('results/report.txt').download())[0].toString()).toBe('lines=10 total=55\n');
    const iam = JSON.parse(await readFile(path.join(work, 'gcs', 'iam.json'), 'utf8')) as { tokens: Record<string, { email: string }> };
    expect(Object.values(iam.tokens).map((t) => t.email)).toContain(key.client_email);
  }, 300_000);
});
