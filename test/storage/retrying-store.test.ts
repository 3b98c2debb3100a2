/** The agent's writes of logs and status documents survive passing failures of the store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirObjectStore, type ObjectStore } from '../../storage/object-store';
import { withRetriedPuts } from '../../storage/retrying-store';

const dir = mkdtempSync(path.join(tmpdir(), 'hb-retrying-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real store on disk whose first `failures` writes are refused, as a throttled cloud would. */
function flaky(failures: number): ObjectStore & { tries: number } {
  const real = new LocalDirObjectStore(dir);
  const s = {
    tries: 0,
    get: (key: string) => real.get(key),
    async put(key: string, data: Buffer | string) {
      s.tries += 1;
      if (s.tries <= failures) throw new Error(`503 SlowDown (try ${s.tries})`);
      await real.put(key, data);
    },
  };
  return s;
}

describe('writes retried', () => {
  it('writes once the store recovers, saying each retry', async () => {
    const inner = flaky(2);
    const retries: number[] = [];
    const store = withRetriedPuts(inner, (_key, _err, attempt) => retries.push(attempt), [1, 1, 1]);
    await store.put('batch/1/job/1/main/log', 'hello\n');
    expect(inner.tries).toBe(3);
    expect(retries).toEqual([1, 2]);
    expect((await store.get('batch/1/job/1/main/log'))?.toString()).toBe('hello\n');
  });

  it('gives up after the last delay with the store\'s own error, having written nothing', async () => {
    const inner = flaky(10);
    const store = withRetriedPuts(inner, () => undefined, [1, 1]);
    await expect(store.put('batch/1/job/2/main/log', 'x')).rejects.toThrow('503 SlowDown (try 3)');
    expect(inner.tries).toBe(3);
    expect(await store.get('batch/1/job/2/main/log')).toBeNull();
  });
});
