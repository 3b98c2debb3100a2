/**
 * Where job logs and status documents end up: a local directory in local mode; cloud buckets
 * (GCS, Azure Blob) implement the same two calls.
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

  /** Keys are slash-separated and relative; anything escaping the root is refused. */
  private pathOf(key: string): string {
    const parts = key.split('/');
    if (key === '' || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw new Error(`invalid object key: ${JSON.stringify(key)}`);
    }
    return path.join(this.rootDir, ...parts);
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
