/**
 * Group commit (db/group-commit.ts), without a database: what goes together, what waits, and
 * what one bad item costs the others.
 */
import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../db/group-commit';

/** A flush that records each call and stays open until released. */
function gatedFlush(fail: (item: number) => boolean = () => false) {
  const calls: { key: string; items: number[] }[] = [];
  const gates: (() => void)[] = [];
  const flush = async (key: string, items: number[]) => {
    calls.push({ key, items: [...items] });
    await new Promise<void>((r) => gates.push(r));
    if (items.some(fail)) throw new Error(`bad item in ${items.join(',')}`);
    return items.map((i) => i * 10);
  };
  const openAll = async () => {
    for (let k = 0; k < 50 && gates.length > 0; k++) {
      gates.splice(0).forEach((g) => g());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { calls, flush, openAll };
}

describe('group commit', () => {
  it('flushes a lone call at once, and the calls that arrive meanwhile together in the next flush', async () => {
    const g = gatedFlush();
    const call = groupCommit(g.flush);
    const first = call('b1', 1);
    expect(g.calls).toEqual([{ key: 'b1', items: [1] }]);
    const later = [call('b1', 2), call('b1', 3), call('b1', 4)];
    expect(g.calls).toHaveLength(1);
    await g.openAll();
    expect(await first).toBe(10);
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
    expect(g.calls).toEqual([
      { key: 'b1', items: [1] },
      { key: 'b1', items: [2, 3, 4] },
    ]);
  });

  it('keeps keys apart: another key never waits for this one', async () => {
    const g = gatedFlush();
    const call = groupCommit(g.flush);
    const a = call('a', 1);
    const b = call('b', 2);
    expect(g.calls.map((c) => c.key)).toEqual(['a', 'b']);
    await g.openAll();
    expect(await Promise.all([a, b])).toEqual([10, 20]);
  });

  it('caps a flush at maxItems and runs the rest in the flushes after it', async () => {
    const g = gatedFlush();
    const call = groupCommit(g.flush, 2);
    const all = [call('k', 1), call('k', 2), call('k', 3), call('k', 4), call('k', 5)];
    await g.openAll();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
    expect(g.calls.map((c) => c.items)).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('retries a failed group one item at a time, so only the bad item fails', async () => {
    const g = gatedFlush((i) => i === 3);
    const call = groupCommit(g.flush);
    const first = call('k', 1);
    const rest = [call('k', 2), call('k', 3), call('k', 4)].map((p) => p.then((v) => ({ v }), (e: Error) => ({ e: e.message })));
    await g.openAll();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([{ v: 20 }, { e: 'bad item in 3' }, { v: 40 }]);
    expect(g.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('starts afresh after a key has drained', async () => {
    const g = gatedFlush();
    const call = groupCommit(g.flush);
    const a = call('k', 1);
    await g.openAll();
    await a;
    const b = call('k', 2);
    expect(g.calls.at(-1)).toEqual({ key: 'k', items: [2] });
    await g.openAll();
    expect(await b).toBe(20);
  });
});
