/**
 * Jobs' cloud files copied with the *user's* identity, end to end, once per cloud with the
 * same cases: the service on "GCS" (test/support/emulators/gcs.ts and its IAM, through the
 * real @google-cloud/storage) and on Azure Blob (Azurite with one storage account per user,
 * through the real @azure/storage-blob), both with shared keys and with service principals
 * (Azurite over HTTPS taking bearer tokens, signed in through an emulated Microsoft Entra ID
 * by the real @azure/identity). Each user's identity lies in HB_USER_CREDENTIALS_DIR;
 * each user's bucket / account only that user's identity may use. A job reads and writes its
 * user's storage (files and whole prefixes), never another user's, and never sees the secret;
 * a user without an identity gets an Error naming why. Process executor: commands see /io as
 * their working directory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureHttps } from '../support/azure-https';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../support/emulators/azurite';
import { createBucket, startGcsEmulator } from '../support/emulators/gcs';
import type { ServiceAccountKey } from '../support/emulators/gcs-iam';
import { job, startTestService, waitForBatch, type TestService } from '../support/service';

const USERS = ['alice', 'bob'] as const;
type User = (typeof USERS)[number];

/** One cloud's storage as the test sees it: its users' own clients, and the URLs jobs name. */
type CloudFixture = {
  env: Record<string, string>;
  /** The URL of `name` in `owner`'s bucket / container. */
  url(owner: User, name: string): string;
  /** Reads `name` from `owner`'s storage with `owner`'s identity; null when absent. */
  read(owner: User, name: string): Promise<string | null>;
  write(owner: User, name: string, data: string): Promise<void>;
  cloudName: string;
  deniedTo: RegExp;
  /**
   * An object name under `evil/` that is no plain path. GCS keeps any name, `..` segments
   * included; Azure resolves `..` in the URL itself, so there the hostile name has an empty segment.
   */
  hostileName: string;
  /** Where users sign in to get tokens (service principals): how many sign-ins the agents made. */
  agentSignIns?: () => number;
  stop(): Promise<void>;
};

async function gcsFixture(work: string, identities: string): Promise<CloudFixture> {
  const gcs = await startGcsEmulator({ dir: path.join(work, 'gcs'), port: 9447 });
  await createBucket(gcs.dir, 'hb-logs');
  const keys = {} as Record<User, ServiceAccountKey>;
  for (const user of USERS) {
    await createBucket(gcs.dir, `${user}-data`);
    keys[user] = gcs.iam.createServiceAccount(`${user}-batch`);
    gcs.iam.grant(`${user}-data`, keys[user].client_email);
    mkdirSync(path.join(identities, user), { recursive: true });
    writeFileSync(path.join(identities, user, 'gcp-key.json'), JSON.stringify(keys[user]), { mode: 0o600 });
  }
  const bucket = (user: User) => {
    const storage = new Storage({ credentials: keys[user], apiEndpoint: gcs.url, useAuthWithCustomEndpoint: true, projectId: 'test' });
    (storage.authClient as { useJWTAccessWithScope?: boolean }).useJWTAccessWithScope = true;
    return storage.bucket(`${user}-data`);
  };
  return {
    env: { HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs', HB_GCS_API_ENDPOINT: gcs.url, HB_GCS_PROJECT: 'test' },
    url: (owner, name) => `gs://${owner}-data/${name}`,
    async read(owner, name) {
      try {
        return (await bucket(owner).file(name).download())[0].toString();
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return null;
        throw err;
      }
    },
    // Not resumable: the SDK sends resumable sessions to a non-Google endpoint unauthenticated.
    write: async (owner, name, data) => void (await bucket(owner).file(name).save(data, { resumable: false })),
    cloudName: 'Google Cloud Storage',
    deniedTo: /permission denied to alice-batch@test\.iam\.gserviceaccount\.com/,
    hostileName: 'evil/../../../escaped',
    stop: () => gcs.stop(),
  };
}

async function azureFixture(work: string, identities: string): Promise<CloudFixture> {
  const accounts = { alice: { account: 'aliceacct', key: Buffer.from('alice-key-'.repeat(4)).toString('base64') }, bob: { account: 'bobacct', key: Buffer.from('bob-key-'.repeat(5)).toString('base64') } };
  const azurite = await startAzurite({ dir: path.join(work, 'azurite'), port: 10_047, accounts: Object.values(accounts) });
  const endpoint = `http://127.0.0.1:${azurite.port}/{account}`;
  const container = (user: User) =>
    new BlobServiceClient(endpoint.replace('{account}', accounts[user].account), new StorageSharedKeyCredential(accounts[user].account, accounts[user].key)).getContainerClient('data');
  await new BlobServiceClient(azurite.blobUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient('hb-logs').createIfNotExists();
  for (const user of USERS) {
    await container(user).createIfNotExists();
    mkdirSync(path.join(identities, user), { recursive: true });
    writeFileSync(path.join(identities, user, 'azure.json'), JSON.stringify({ type: 'shared_key', ...accounts[user] }), { mode: 0o600 });
  }
  return {
    env: { HB_OBJECT_STORE: 'azure', HB_AZURE_STORAGE_CONTAINER: 'hb-logs', HB_AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, HB_AZURE_BLOB_ENDPOINT: endpoint },
    url: (owner, name) => `https://${accounts[owner].account}.blob.core.windows.net/data/${name}`,
    async read(owner, name) {
      const blob = container(owner).getBlobClient(name);
      return (await blob.exists()) ? (await blob.downloadToBuffer()).toString() : null;
    },
    write: async (owner, name, data) => void (await container(owner).getBlockBlobClient(name).upload(data, Buffer.byteLength(data))),
    cloudName: 'Azure Blob Storage',
    deniedTo: /permission denied/,
    hostileName: 'evil//escaped',
    stop: () => azurite.stop(),
  };
}

/**
 * Each user a service principal with a role on their own storage account only, the users'
 * accounts on an Azure Blob endpoint that takes bearer tokens (HTTPS, a CA of the test's own
 * that the agents trust through NODE_EXTRA_CA_CERTS). The deployment's own account (logs)
 * stays on a plain Azurite of its own, as it is a different account in a real deployment.
 */
async function azureServicePrincipalFixture(work: string, identities: string): Promise<CloudFixture> {
  const accounts = { alice: { account: 'aliceacct', key: Buffer.from('alice-key-'.repeat(4)).toString('base64') }, bob: { account: 'bobacct', key: Buffer.from('bob-key-'.repeat(5)).toString('base64') } };
  const az = await startAzureHttps({ dir: path.join(work, 'azure-https'), net: '127.45.0', accounts: Object.values(accounts), ownPort: 10_048 });
  for (const user of USERS) {
    await az.blobs.mkcontainer(accounts[user], 'data');
    az.addUserPrincipal(identities, user, accounts[user].account);
  }
  return {
    env: az.serviceEnv,
    url: (owner, name) => `https://${accounts[owner].account}.blob.core.windows.net/data/${name}`,
    read: (owner, name) => az.blobs.get(accounts[owner], 'data', name),
    write: (owner, name, data) => az.blobs.put(accounts[owner], 'data', name, data),
    cloudName: 'Azure Blob Storage',
    deniedTo: /permission denied/,
    hostileName: 'evil//escaped',
    // The agents sign in as the users' principals through @azure/identity.
    agentSignIns: () => az.entra.issued.filter((t) => t.client.includes('azsdk-js-identity')).length,
    stop: () => az.stop(),
  };
}

describe.each([
  ['GCS', gcsFixture],
  ['Azure Blob', azureFixture],
  ['Azure Blob, service principals', azureServicePrincipalFixture],
] as const)("jobs' cloud files on %s, as their user", (label, makeFixture) => {
  let cloud: CloudFixture;
  let s: TestService;
  const tokens: Record<string, string> = {};
  const work = mkdtempSync(path.join(tmpdir(), 'hb-cloud-files-'));
  let n = 0;

  async function runAs(user: string, spec: Record<string, unknown>) {
    const res = await s.api('/api/v1alpha/batches/create-fast', {
      method: 'POST',
      token: tokens[user]!,
      json: { batch: { billing_project: 'test', n_jobs: 1, token: `files-${process.pid}-${label.replace(/\W+/g, '-')}-${++n}` }, bunch: [spec] },
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: number };
    await waitForBatch(s, id, 90_000);
    const j = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1`, { token: tokens[user]! })).json()) as { state: string };
    const log = (await (await s.api(`/api/v1alpha/batches/${id}/jobs/1/log`, { token: tokens[user]! })).json()) as Record<string, string>;
    return { state: j.state, log };
  }

  beforeAll(async () => {
    const identities = path.join(work, 'identities');
    cloud = await makeFixture(work, identities);
    const env = { ...cloud.env, HB_USER_CREDENTIALS_DIR: identities };
    // The local driver's agents inherit this process's environment, as agents on VMs get
    // theirs from the startup script.
    Object.assign(process.env, env);
    s = await startTestService({ name: `cloud-user-files-${label === 'GCS' ? 'gcs' : label === 'Azure Blob' ? 'azure' : 'azure-sp'}`, executor: 'process', pools: 'standard:1', env });
    tokens.alice = s.token;
    tokens.bob = await s.addUser('bob', { projects: ['test'] });
    tokens.carol = await s.addUser('carol', { projects: ['test'] });
    await cloud.write('alice', 'in/a.txt', 'from alice\n');
    await cloud.write('alice', 'ref/x', 'x\n');
    await cloud.write('alice', 'ref/sub/y', 'y\n');
    await cloud.write('alice', 'evil/ok', 'fine\n');
    await cloud.write('alice', cloud.hostileName, 'outside\n');
    await cloud.write('bob', 'secret.txt', "bob's secret\n");
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
    for (const k of Object.keys(cloud?.env ?? {})) delete process.env[k];
    await cloud?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("copies files and prefixes in and out of the user's storage, and main never sees the secret", async () => {
    const { state, log } = await runAs(
      'alice',
      job(1, ['sh', '-c', 'cat a.txt ref/x ref/sub/y > out.txt && mkdir -p res/d && echo r > res/d/r && env && ls -laR .'], {
        input_files: [
          { from: cloud.url('alice', 'in/a.txt'), to: '/io/a.txt' },
          { from: cloud.url('alice', 'ref'), to: '/io/ref' },
        ],
        output_files: [
          { from: '/io/out.txt', to: cloud.url('alice', 'out/result.txt') },
          { from: '/io/res', to: cloud.url('alice', 'out/res') },
        ],
      }),
    );
    expect(state, JSON.stringify(log)).toBe('Success');
    expect(log.input).toContain(`copying ${cloud.url('alice', 'ref')} -> /io/ref`);
    expect(await cloud.read('alice', 'out/result.txt')).toBe('from alice\nx\ny\n');
    expect(await cloud.read('alice', 'out/res/d/r')).toBe('r\n');
    for (const secret of ['PRIVATE KEY', 'private_key', 'shared_key', 'AccountKey', 'client_secret']) expect(log.main).not.toContain(secret);
    if (cloud.agentSignIns) expect(cloud.agentSignIns()).toBeGreaterThan(0);
  });

  it("refuses another user's storage both ways: nothing read, nothing written", async () => {
    const readBob = await runAs('alice', job(1, ['sh', '-c', 'cat s.txt'], { input_files: [{ from: cloud.url('bob', 'secret.txt'), to: '/io/s.txt' }] }));
    expect(readBob.state).toBe('Failed');
    expect(readBob.log.input).toContain(cloud.url('bob', 'secret.txt'));
    expect(readBob.log.input).toMatch(cloud.deniedTo);
    expect(readBob.log.main ?? '').not.toContain("bob's secret");

    const writeBob = await runAs('alice', job(1, ['sh', '-c', 'echo planted > p'], { output_files: [{ from: '/io/p', to: cloud.url('bob', 'planted.txt') }] }));
    expect(writeBob.state).toBe('Failed');
    expect(writeBob.log.output).toMatch(cloud.deniedTo);
    expect(await cloud.read('bob', 'planted.txt')).toBeNull();
  });

  it('gives a user without a cloud identity an Error that says so', async () => {
    const { state, log } = await runAs('carol', job(1, ['true'], { input_files: [{ from: cloud.url('alice', 'in/a.txt'), to: '/io/a.txt' }] }));
    expect(state).toBe('Error');
    expect(log.input).toContain(`user carol has no ${cloud.cloudName} identity in this deployment`);
  });

  it('never follows a link main left in /io, nor writes outside /io for an object name with ..', async () => {
    const link = await runAs('alice', job(1, ['sh', '-c', 'ln -s /etc/passwd leak'], { output_files: [{ from: '/io/leak', to: cloud.url('alice', 'leak') }] }));
    expect(link.state).toBe('Failed');
    expect(link.log.output).toContain('symbolic link');
    expect(await cloud.read('alice', 'leak')).toBeNull();

    const dots = await runAs('alice', job(1, ['sh', '-c', 'ls -R .'], { input_files: [{ from: cloud.url('alice', 'evil'), to: '/io/evil' }] }));
    expect(dots.state).toBe('Failed');
    expect(dots.log.input).toContain(`does not name a path under ${cloud.url('alice', 'evil')}`);
  });
});
