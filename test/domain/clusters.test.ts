import { describe, expect, it } from 'vitest';
import { SpecError } from '../../domain/errors';
import { nodesOf, parseClusterSpec, validateClusterName, validateImageName } from '../../domain/clusters/spec';
import { applyRefusal, diffNodes, plannedSpec, planSummary, type ClusterFacts, type StoredPlan } from '../../domain/clusters/plan';
import { hourlyCost, nodeBilledMs, nodeResources, nodesCost } from '../../domain/clusters/costs';
import { stepsOf } from '../../domain/clusters/steps';
import { DEFAULT_LOCAL_RATE_CARD } from '../../domain/billing-rates';
import { formatPlan } from '../../cli/cluster';

const IMAGE = 'hail-base/1.0.0';
const spec = (workers: number, worker = { cores: 1, memory_gib: 2 }) => parseClusterSpec({ image: IMAGE, workers, worker });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e.field;
    throw e;
  }
  throw new Error('no error');
}

describe('cluster specs', () => {
  it('fills defaults and names the offending field', () => {
    expect(parseClusterSpec({ image: IMAGE, workers: 2 })).toEqual({ image: IMAGE, workers: 2, master: { cores: 1, memory_gib: 2 }, worker: { cores: 1, memory_gib: 2 } });
    expect(fieldOf(() => parseClusterSpec({ image: IMAGE, workers: -1 }))).toBe('spec.workers');
    expect(fieldOf(() => parseClusterSpec({ image: IMAGE, workers: 1.5 }))).toBe('spec.workers');
    expect(fieldOf(() => parseClusterSpec({ image: 'hail-base:latest', workers: 1 }))).toBe('spec.image');
    expect(fieldOf(() => parseClusterSpec({ image: IMAGE, workers: 1, worker: { cores: 0, memory_gib: 2 } }))).toBe('spec.worker.cores');
    expect(fieldOf(() => parseClusterSpec({ image: IMAGE, workers: 1, extra: true }))).toBe('spec');
    expect(fieldOf(() => parseClusterSpec(null))).toBe('spec');
    expect(fieldOf(() => validateClusterName('Bad_Name'))).toBe('name');
    expect(fieldOf(() => validateClusterName('a'.repeat(41)))).toBe('name');
    expect(validateClusterName('ld14')).toBe('ld14');
    expect(validateImageName('hail-base/1.0.0')).toBe('hail-base/1.0.0');
    expect(fieldOf(() => validateImageName('hail-base/01.0.0'))).toBe('name');
  });

  it('makes a master and numbered workers', () => {
    expect(nodesOf('c1', spec(2)).map((n) => `${n.name}:${n.role}`)).toEqual(['c1-master:master', 'c1-worker-1:worker', 'c1-worker-2:worker']);
    expect(nodesOf('c1', null)).toEqual([]);
  });
});

describe('plans', () => {
  it('diffs node by node', () => {
    expect(planSummary(diffNodes('c', null, spec(2)))).toEqual({ add: 3, remove: 0, change: 0, keep: 0 });
    expect(planSummary(diffNodes('c', spec(2), spec(3)))).toEqual({ add: 1, remove: 0, change: 0, keep: 3 });
    expect(planSummary(diffNodes('c', spec(3), spec(1)))).toEqual({ add: 0, remove: 2, change: 0, keep: 2 });
    expect(planSummary(diffNodes('c', spec(2), spec(2, { cores: 2, memory_gib: 4 })))).toEqual({ add: 0, remove: 0, change: 2, keep: 1 });
    expect(planSummary(diffNodes('c', spec(2), null))).toEqual({ add: 0, remove: 3, change: 0, keep: 0 });
  });

  it('allows create only for what does not run, update and destroy only for what does', () => {
    const none: ClusterFacts = { exists: false, spec: null, generation: 0, applying: false };
    const running: ClusterFacts = { exists: true, spec: spec(2), generation: 1, applying: false };
    expect(plannedSpec('create', none, spec(1))).toEqual(spec(1));
    expect(fieldOf(() => plannedSpec('create', running, spec(1)))).toBe('to');
    expect(fieldOf(() => plannedSpec('update', none, spec(1)))).toBe('to');
    expect(fieldOf(() => plannedSpec('destroy', none, null))).toBe('to');
    expect(plannedSpec('destroy', running, null)).toBeNull();
    expect(fieldOf(() => plannedSpec('update', running, null))).toBe('spec');
  });

  it('refuses missing, other-action, applied, stale and concurrent plans', () => {
    const facts: ClusterFacts = { exists: true, spec: spec(2), generation: 3, applying: false };
    const plan: StoredPlan = { id: 7, cluster: 'c', action: 'update', baseGeneration: 3, state: 'planned' };
    expect(applyRefusal(plan, 'c', facts, ['create', 'update'])).toBeNull();
    expect(applyRefusal(null, 'c', facts, 'update')?.reason).toContain('no such plan');
    expect(applyRefusal(plan, 'other', facts, 'update')?.reason).toContain('no such plan');
    expect(applyRefusal(plan, 'c', facts, 'destroy')?.reason).toContain('destroy plan');
    expect(applyRefusal({ ...plan, state: 'applied' }, 'c', facts, 'update')?.reason).toContain('already applied');
    expect(applyRefusal({ ...plan, baseGeneration: 2 }, 'c', facts, 'update')?.reason).toContain('stale');
    expect(applyRefusal(plan, 'c', { ...facts, applying: true }, 'update')?.reason).toContain('another plan');
  });

  it('removes before it creates, master before workers, and re-asserts kept nodes', () => {
    const steps = stepsOf(diffNodes('c', spec(2), spec(3, { cores: 2, memory_gib: 4 })));
    expect(steps.map((s) => `${s.kind} ${s.node}`)).toEqual([
      'remove c-worker-1',
      'remove c-worker-2',
      'create c-master',
      'create c-worker-1',
      'create c-worker-2',
      'create c-worker-3',
    ]);
    expect(stepsOf(diffNodes('c', spec(1), null)).map((s) => s.kind)).toEqual(['remove', 'remove']);
  });

  it('prints a plan as a table', () => {
    const diff = diffNodes('c', spec(1), spec(2));
    const text = formatPlan('c', { id: 4, to: 'update', state: 'planned', changes: diff, summary: planSummary(diff), hourly_cost: { before: 0.1, after: 0.15 } });
    expect(text).toContain('NODE');
    expect(text).toMatch(/c-worker-2\s+worker\s+add\s+-\s+1 cores, 2 GiB/);
    expect(text).toContain('1 to add, 0 to change, 0 to remove, 2 unchanged');
    expect(text).toContain('$0.1000 -> $0.1500');
    expect(text).toContain('cluster apply c --plan 4');
  });
});

describe('cluster costs', () => {
  const card = DEFAULT_LOCAL_RATE_CARD;
  it('bills a node per core-hour like a non-preemptible job holding the machine', () => {
    const r = nodeResources({ cores: 2, memory_gib: 4 }, card, 'local');
    expect(r.map((x) => x.name)).toEqual(['compute/n1-nonpreemptible/local/1', 'memory/n1-nonpreemptible/local/1', 'service-fee/1']);
    // 2 × $0.031611 + 4 × $0.004237 + 2 × $0.01 per hour.
    expect(hourlyCost([{ cores: 2, memory_gib: 4 }], card, 'local')).toBeCloseTo(2 * 0.031611 + 4 * 0.004237 + 2 * 0.01, 12);
    expect(hourlyCost([], card, 'local')).toBe(0);
  });

  it('bills from start to removal, or to now', () => {
    expect(nodeBilledMs({ timeStarted: 1000, timeRemoved: 4000 }, 9000)).toBe(3000);
    expect(nodeBilledMs({ timeStarted: 1000, timeRemoved: null }, 9000)).toBe(8000);
    expect(nodeBilledMs({ timeStarted: 5000, timeRemoved: 4000 }, 9000)).toBe(0);
    const resources = nodeResources({ cores: 1, memory_gib: 2 }, card, 'local');
    const hour = hourlyCost([{ cores: 1, memory_gib: 2 }], card, 'local');
    expect(nodesCost([{ resources, timeStarted: 0, timeRemoved: 1_800_000 }], card, 10_000_000)).toBeCloseTo(hour / 2, 12);
  });
});
