/**
 * Where job logs and status documents end up: a local directory in local mode; cloud buckets
 * (gcs-object-store.ts, azure-object-store.ts) implement the same two calls, chosen by
 * config (stores.ts). Every implementation passes test/storage/object-store.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ObjectStore {
  put(key: string, data: Buffer | string): Promise<void>;
  /** The object's bytes, or null when no object has that key. */
  get(key: string): Promise<Buffer | null>;
}

export class LocalDirObjectStore implements ObjectStore {
  readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    // A reader must see the old object or the whole new one, never a half-written file.
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, data);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private pathOf(key: string): string {
    checkObjectKey(key);
    return path.join(this.rootDir, ...key.split('/'));
  }
}

/**
 * Keys are slash-separated and relative, the same rule in every store: nothing escapes a
 * directory, and a key names the same object in a bucket as on disk.
 */
export function checkObjectKey(key: string): void {
  const parts = key.split('/');
  if (key === '' || key.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
