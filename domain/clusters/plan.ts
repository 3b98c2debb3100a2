/**
 * Plans: the diff between what a cluster is (its applied spec, or nothing) and what it is
 * asked to be, and the rules that say whether a stored plan may still be applied. Pure.
 */
import { SpecError } from '../errors';
import { nodesOf, type ClusterSpec, type NodePlan, type PlannedNode } from './spec';

export type PlanAction = 'create' | 'update' | 'destroy';
export const PLAN_ACTIONS: readonly PlanAction[] = ['create', 'update', 'destroy'];

const sameNode = (a: PlannedNode, b: PlannedNode) =>
  a.role === b.role && a.image === b.image && a.cores === b.cores && a.memory_gib === b.memory_gib;

/** Node by node, in spec order (current nodes that go last). */
export function diffNodes(cluster: string, current: ClusterSpec | null, wanted: ClusterSpec | null): NodePlan[] {
  const before = new Map(nodesOf(cluster, current).map((n) => [n.name, n]));
  const after = nodesOf(cluster, wanted);
  const out: NodePlan[] = after.map((n) => {
    const was = before.get(n.name) ?? null;
    if (was === null) return { node: n.name, change: 'add', before: null, after: n };
    return { node: n.name, change: sameNode(was, n) ? 'keep' : 'change', before: was, after: n };
  });
  const kept = new Set(after.map((n) => n.name));
  for (const [name, n] of before) if (!kept.has(name)) out.push({ node: name, change: 'remove', before: n, after: null });
  return out;
}

/** What the cluster is when a plan is made: its applied spec and generation. */
export type ClusterFacts = { exists: boolean; spec: ClusterSpec | null; generation: number; applying: boolean };

/**
 * Checks a plan request against the cluster: create only what does not run, update and
 * destroy only what does. Returns the spec the plan leads to (null for destroy).
 */
export function plannedSpec(action: PlanAction, facts: ClusterFacts, spec: ClusterSpec | null): ClusterSpec | null {
  const running = facts.exists && facts.spec !== null;
  if (action === 'create') {
    if (running) throw new SpecError('to', 'the cluster exists; plan an update or a destroy');
    if (spec === null) throw new SpecError('spec', 'a create plan needs a spec');
    return spec;
  }
  if (!running) throw new SpecError('to', `there is no cluster to ${action}; plan a create`);
  if (action === 'update') {
    if (spec === null) throw new SpecError('spec', 'an update plan needs a spec');
    return spec;
  }
  return null;
}

export type StoredPlan = {
  id: number;
  cluster: string;
  action: PlanAction;
  baseGeneration: number;
  state: 'planned' | 'applying' | 'applied' | 'superseded' | 'failed';
};

/** Why a stored plan cannot be applied now, or null when it can. */
export function applyRefusal(
  plan: StoredPlan | null,
  cluster: string,
  facts: ClusterFacts,
  expected: PlanAction | readonly PlanAction[],
): { field: string; reason: string } | null {
  const allowed = typeof expected === 'string' ? [expected] : expected;
  if (plan === null || plan.cluster !== cluster) return { field: 'plan_id', reason: 'no such plan for this cluster' };
  if (!allowed.includes(plan.action)) {
    return { field: 'plan_id', reason: `plan ${plan.id} is a ${plan.action} plan; this needs a ${allowed.join(' or ')} plan` };
  }
  if (plan.state === 'applied' || plan.state === 'applying') return { field: 'plan_id', reason: `plan ${plan.id} was already applied` };
  if (plan.state !== 'planned') return { field: 'plan_id', reason: `plan ${plan.id} is ${plan.state}` };
  if (facts.applying) return { field: 'plan_id', reason: 'another plan is being applied to this cluster' };
  if (plan.baseGeneration !== facts.generation) {
    return { field: 'plan_id', reason: `plan ${plan.id} is stale: the cluster changed since it was made; plan again` };
  }
  return null;
}

/** Counts per change, for a plan's one-line summary. */
export function planSummary(diff: readonly NodePlan[]): Record<'add' | 'remove' | 'change' | 'keep', number> {
  const out = { add: 0, remove: 0, change: 0, keep: 0 };
  for (const d of diff) out[d.change]++;
  return out;
}
