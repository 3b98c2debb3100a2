/** Users' own cloud identities as the driver reads them (storage/user-credentials.ts). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudsNamed, readUserCredentials } from '../../storage/user-credentials';

const dir = mkdtempSync(path.join(tmpdir(), 'hb-identities-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = {
  type: 'service_account',
  client_email: 'alice-batch@proj.iam.gserviceaccount.com',
  private_key: '-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----\n',
  private_key_id: 'k1',
  project_id: 'proj',
};

function put(user: string, file: string, content: string): void {
  mkdirSync(path.join(dir, user), { recursive: true });
  writeFileSync(path.join(dir, user, file), content);
}

describe('user credentials', () => {
  it('names the clouds a job’s files reach, inputs by from and outputs by to', () => {
    expect(cloudsNamed({ input_files: [{ from: '/data/x', to: '/io/x' }], output_files: [{ from: '/io/y', to: '/data/y' }] })).toEqual([]);
    expect(
      cloudsNamed({
        input_files: [{ from: 'gs://b-1/x', to: '/io/x' }],
        output_files: [{ from: '/io/y', to: 'https://acct1.blob.core.windows.net/c-1/y' }],
      }).sort(),
    ).toEqual(['azure', 'gcp']);
    // An output's `from` is a path in /io, whatever it looks like.
    expect(cloudsNamed({ input_files: [], output_files: [{ from: 'gs://b-1/x', to: '/data/x' }] })).toEqual([]);
  });

  it('reads only the clouds asked for, and a missing file is no identity', async () => {
    put('alice', 'gcp-key.json', JSON.stringify(key));
    put('alice', 'azure.json', JSON.stringify({ type: 'shared_key', account: 'aliceacct', key: 'a2V5' }));
    const problems: string[] = [];
    expect(await readUserCredentials(dir, 'alice', ['gcp'], (p) => problems.push(p))).toEqual({ gcp: key });
    expect(await readUserCredentials(dir, 'alice', ['gcp', 'azure'], (p) => problems.push(p))).toEqual({
      gcp: key,
      azure: { type: 'shared_key', account: 'aliceacct', key: 'a2V5' },
    });
    expect(await readUserCredentials(dir, 'nobody', ['gcp', 'azure'], (p) => problems.push(p))).toEqual({});
    expect(problems).toEqual([]);
  });

  it('reports a malformed file by name, never by content, and treats it as no identity', async () => {
    put('bob', 'gcp-key.json', JSON.stringify({ ...key, type: 'authorized_user' }));
    put('bob', 'azure.json', 'not json, secret-material');
    const problems: string[] = [];
    expect(await readUserCredentials(dir, 'bob', ['gcp', 'azure'], (p) => problems.push(p))).toEqual({});
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain(path.join(dir, 'bob', 'gcp-key.json'));
    for (const p of problems) expect(p).not.toContain('secret-material');
  });

  it('never reads outside the directory for a username that is no plain name', async () => {
    put('alice', 'gcp-key.json', JSON.stringify(key));
    for (const user of ['../alice', 'x/../alice', '..', '', 'a/b']) {
      expect(await readUserCredentials(path.join(dir, 'sub'), user, ['gcp'], () => undefined)).toEqual({});
    }
  });
});
