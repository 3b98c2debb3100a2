/**
 * Azure as a user's service principal meets it: Azure Blob Storage (Azurite over HTTPS, with
 * bearer tokens) and Microsoft Entra ID (emulators/entra.ts) on two loopback addresses of the
 * test's own, port 443, with certificates of a CA made for the run. Processes that should
 * trust it get the CA's file (NODE_EXTRA_CA_CERTS for Node, SSL_CERT_FILE for Python); the
 * test process itself does not, so it sets up and inspects blobs through azure_blobs.py.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from './emulators/azurite';
import { startEntraEmulator, type EntraEmulator, type ServicePrincipal } from './emulators/entra';
import { makeTestCa, type TestCa } from './test-ca';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const HAIL_PYTHON = path.join(ROOT, '.tools', 'hail-venv', 'bin', 'python');
const BLOBS = path.join(ROOT, 'test', 'support', 'azure_blobs.py');

export type StorageAccount = { account: string; key: string };

export type PythonBlobs = {
  mkcontainer(a: StorageAccount, container: string): Promise<void>;
  put(a: StorageAccount, container: string, name: string, data: string): Promise<void>;
  /** null when there is no such blob. */
  get(a: StorageAccount, container: string, name: string): Promise<string | null>;
  list(a: StorageAccount, container: string, prefix: string): Promise<string[]>;
};

/** Blobs behind `endpoint` (`{account}` in it), over HTTPS trusting `caPath`, through azure_blobs.py. */
export function pythonBlobs(caPath: string, endpoint: string): PythonBlobs {
  if (!existsSync(HAIL_PYTHON)) throw new Error(`${HAIL_PYTHON} is missing: run bash scripts/setup.sh --test`);
  const py = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string }>((resolve, reject) => {
      const child = execFile(HAIL_PYTHON, [BLOBS, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AZURE_TEST_CA: caPath }, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code !== 0 && code !== 3) return reject(new Error(`azure_blobs.py ${args[0]} failed (${code}): ${stderr}`));
        resolve({ code, stdout });
      });
      child.stdin?.end(input ?? '');
    });
  const base = (a: StorageAccount, container: string) => [endpoint, a.account, a.key, container];
  return {
    mkcontainer: async (a, container) => void (await py(['mkcontainer', ...base(a, container)])),
    put: async (a, container, name, data) => void (await py(['put', ...base(a, container), name], data)),
    get: async (a, container, name) => {
      const r = await py(['get', ...base(a, container), name]);
      return r.code === 3 ? null : r.stdout;
    },
    list: async (a, container, prefix) => (await py(['list', ...base(a, container), prefix])).stdout.split('\n').filter(Boolean),
  };
}

export type AzureHttps = {
  ca: TestCa;
  entra: EntraEmulator;
  azurite: Azurite;
  /** Blob endpoints by address, `{account}` for the account (HB_AZURE_BLOB_ENDPOINT). */
  blobEndpoint: string;
  /** The address the accounts' and Entra's public host names resolve to, for a client given its own /etc/hosts. */
  hosts: { ip: string; names: string[] }[];
  blobs: PythonBlobs;
  /**
   * The service's settings: its own logs in container hb-logs of a plain Azurite of its own
   * (a different account in a real deployment too), users' accounts here, the CA trusted.
   */
  serviceEnv: Record<string, string>;
  /** A service principal for `user` with a role on `account`, kept as the user's identity in `identities`. */
  addUserPrincipal(identities: string, user: string, account: string): ServicePrincipal;
  stop(): Promise<void>;
};

/**
 * `net`: the first three octets of the two loopback addresses (e.g. '127.44.0'), one per test
 * file; `ownPort`: the port of the service's own plain Azurite.
 */
export async function startAzureHttps(opts: { dir: string; net: string; accounts: StorageAccount[]; ownPort: number }): Promise<AzureHttps> {
  const own = await startAzurite({ dir: path.join(opts.dir, 'azurite-own'), port: opts.ownPort });
  await new BlobServiceClient(own.blobUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient('hb-logs').createIfNotExists();
  const storageIp = `${opts.net}.1`;
  const loginIp = `${opts.net}.2`;
  const accountHosts = opts.accounts.map((a) => `${a.account}.blob.core.windows.net`);
  const ca = makeTestCa(path.join(opts.dir, 'ca'), [...accountHosts, 'login.microsoftonline.com', storageIp, loginIp]);
  const entra = await startEntraEmulator({ key: ca.key, cert: ca.cert, host: loginIp, port: 443 });
  const azurite = await startAzurite({
    dir: path.join(opts.dir, 'azurite'),
    host: storageIp,
    port: 443,
    tls: { keyPath: path.join(opts.dir, 'ca', 'server.key'), certPath: path.join(opts.dir, 'ca', 'server.pem') },
    accounts: opts.accounts,
    oauth: true,
  });
  const blobEndpoint = `https://${storageIp}/{account}`;
  const blobs = pythonBlobs(ca.caPath, blobEndpoint);
  return {
    ca,
    entra,
    azurite,
    blobEndpoint,
    hosts: [
      { ip: storageIp, names: accountHosts },
      { ip: loginIp, names: ['login.microsoftonline.com'] },
    ],
    blobs,
    serviceEnv: {
      HB_OBJECT_STORE: 'azure',
      HB_AZURE_STORAGE_CONTAINER: 'hb-logs',
      HB_AZURE_STORAGE_CONNECTION_STRING: own.connectionString,
      HB_AZURE_BLOB_ENDPOINT: blobEndpoint,
      HB_AZURE_AUTHORITY_HOST: entra.authorityHost,
      NODE_EXTRA_CA_CERTS: ca.caPath,
    },
    addUserPrincipal(identities, user, account) {
      const sp = entra.createServicePrincipal(`${user}-batch`, [account]);
      mkdirSync(path.join(identities, user), { recursive: true });
      writeFileSync(path.join(identities, user, 'azure.json'), JSON.stringify({ type: 'client_secret', tenant_id: sp.tenant, client_id: sp.appId, client_secret: sp.password }), { mode: 0o600 });
      return sp;
    },
    async stop() {
      await azurite.stop();
      await entra.stop();
      await own.stop();
    },
  };
}
