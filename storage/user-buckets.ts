/**
 * A user's view of cloud object storage: the buckets (GCS) and containers (Azure Blob) that
 * user's own identity reaches, used to copy a job's cloud files. One interface, one
 * implementation per cloud; the SDKs load on first use. Every call is as the user, never as
 * the service, so the cloud's IAM decides what a job may read and write.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { CloudObject } from './cloud-urls';
import type { AzureCredential, CloudCredentials, GcpKey } from './user-credentials';

/** Where the clouds' storage APIs are; null for the public endpoints (emulators in tests). */
export type StorageEndpoints = {
  gcs: string | null;
  /** e.g. `http://127.0.0.1:10000/{account}`: `{account}` is replaced by the URL's account. */
  azureBlob: string | null;
  /** Microsoft Entra ID's host for service principals' sign-in; null for login.microsoftonline.com. */
  azureAuthority: string | null;
};

/** Why a call failed, in the words a user's log needs. */
export class BucketError extends Error {
  constructor(
    readonly kind: 'not-found' | 'denied' | 'other',
    message: string,
  ) {
    super(message);
  }
}

export interface UserBucket {
  /** Downloads one object to `dest` (created exclusively); false when there is no such object. */
  download(name: string, dest: string): Promise<boolean>;
  /** Names of the objects under `prefix` (which ends with `/`). */
  list(prefix: string): Promise<string[]>;
  /** Uploads the file at `src` as `name`, replacing what was there. */
  upload(src: string, name: string): Promise<void>;
}

/** The bucket or container of `object`, as `credentials` reach it; null when the user has none for its cloud. */
export async function openUserBucket(object: CloudObject, credentials: CloudCredentials, endpoints: StorageEndpoints): Promise<UserBucket | null> {
  if (object.cloud === 'gcp') return credentials.gcp ? gcsBucket(object.bucket, credentials.gcp, endpoints.gcs) : null;
  return credentials.azure ? azureContainer(object.account, object.container, credentials.azure, endpoints) : null;
}

const GCS_SCOPES = ['https://www.googleapis.com/auth/devstorage.read_write'];

/**
 * Writes a download to `dest`, created exclusively; a download that fails (a missing object
 * included) leaves no file behind, so the path is free for what comes next (a prefix's tree).
 */
async function streamTo(dest: string, body: () => NodeJS.ReadableStream): Promise<void> {
  try {
    await pipeline(body(), createWriteStream(dest, { flags: 'wx', mode: 0o644 }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await rm(dest, { force: true });
    throw err;
  }
}

async function gcsBucket(bucket: string, key: GcpKey, endpoint: string | null): Promise<UserBucket> {
  const { Storage } = await import('@google-cloud/storage');
  const storage = new Storage({
    credentials: key,
    scopes: GCS_SCOPES,
    ...(key.project_id ? { projectId: key.project_id } : {}),
    ...(endpoint ? { apiEndpoint: endpoint, useAuthWithCustomEndpoint: true } : {}),
    retryOptions: { autoRetry: true, maxRetries: 5 },
  });
  // A self-signed JWT with the storage scope: Google's APIs take it as an access token, so no
  // token exchange (no reach to oauth2.googleapis.com) is needed per job. The SDK's GoogleAuth
  // hands this flag to the key's client when it makes it, on first use.
  (storage.authClient as { useJWTAccessWithScope?: boolean }).useJWTAccessWithScope = true;
  const b = storage.bucket(bucket);
  const fail = (err: unknown, what: string): never => {
    const code = (err as { code?: unknown }).code;
    if (code === 404) throw new BucketError('not-found', `${what}: no such object or bucket`);
    if (code === 401 || code === 403) throw new BucketError('denied', `${what}: permission denied to ${key.client_email}`);
    throw new BucketError('other', `${what}: ${(err as Error).message}`);
  };
  return {
    async download(name, dest) {
      try {
        await streamTo(dest, () => b.file(name).createReadStream({ validation: 'crc32c' }));
        return true;
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return false;
        return fail(err, `gs://${bucket}/${name}`);
      }
    },
    async list(prefix) {
      try {
        const [files] = await b.getFiles({ prefix, autoPaginate: true });
        return files.map((f) => f.name);
      } catch (err) {
        return fail(err, `gs://${bucket}/${prefix}`);
      }
    },
    async upload(src, name) {
      try {
        // Resumable on Google's own endpoint. The SDK (7.19) sends a resumable session to any
        // other endpoint without credentials, whatever useAuthWithCustomEndpoint says, so
        // there an upload is one multipart request.
        await b.upload(src, { destination: name, resumable: endpoint === null, validation: 'crc32c', contentType: 'application/octet-stream' });
      } catch (err) {
        fail(err, `gs://${bucket}/${name}`);
      }
    },
  };
}

/**
 * A service principal's sign-in. Against an authority host of our own naming, MSAL is told
 * not to ask login.microsoftonline.com which hosts are Microsoft's (instance discovery): a
 * national cloud or an emulator answers for itself.
 */
async function servicePrincipal(cred: Extract<AzureCredential, { type: 'client_secret' }>, authorityHost: string | null) {
  const { ClientSecretCredential } = await import('@azure/identity');
  const options = authorityHost ? { authorityHost, disableInstanceDiscovery: true } : {};
  return new ClientSecretCredential(cred.tenant_id, cred.client_id, cred.client_secret, options);
}

async function azureContainer(account: string, container: string, cred: AzureCredential, endpoints: StorageEndpoints): Promise<UserBucket> {
  const blob = await import('@azure/storage-blob');
  const url = endpoints.azureBlob ? endpoints.azureBlob.replace('{account}', account) : `https://${account}.blob.core.windows.net`;
  const where = (name: string) => `https://${account}.blob.core.windows.net/${container}/${name}`;
  if (cred.type === 'shared_key' && cred.account !== account) {
    // A shared key signs for its own account only: every call would be refused, so say so
    // without asking, as the cloud would.
    const denied = async (name: string): Promise<never> => {
      throw new BucketError('denied', `${where(name)}: permission denied (the user's key is for account ${cred.account})`);
    };
    return { download: (name) => denied(name), list: (prefix) => denied(prefix), upload: (_src, name) => denied(name) };
  }
  const service =
    cred.type === 'shared_key'
      ? new blob.BlobServiceClient(url, new blob.StorageSharedKeyCredential(cred.account, cred.key))
      : new blob.BlobServiceClient(url, await servicePrincipal(cred, endpoints.azureAuthority));
  const c = service.getContainerClient(container);
  const fail = (err: unknown, what: string): never => {
    const status = err instanceof blob.RestError ? err.statusCode : undefined;
    if (status === 404) throw new BucketError('not-found', `${what}: no such blob or container`);
    if (status === 401 || status === 403) throw new BucketError('denied', `${what}: permission denied`);
    throw new BucketError('other', `${what}: ${(err as Error).message}`);
  };
  return {
    async download(name, dest) {
      try {
        const res = await c.getBlobClient(name).download();
        const body = res.readableStreamBody;
        if (!body) throw new Error('empty response');
        await streamTo(dest, () => body);
        return true;
      } catch (err) {
        if (err instanceof blob.RestError && err.statusCode === 404 && err.code === 'BlobNotFound') return false;
        return fail(err, where(name));
      }
    },
    async list(prefix) {
      try {
        const names: string[] = [];
        for await (const item of c.listBlobsFlat({ prefix })) names.push(item.name);
        return names;
      } catch (err) {
        return fail(err, where(prefix));
      }
    },
    async upload(src, name) {
      try {
        await c.getBlockBlobClient(name).uploadStream(createReadStream(src));
      } catch (err) {
        fail(err, where(name));
      }
    },
  };
}
