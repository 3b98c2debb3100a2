/**
 * The order a plan is carried out in: nodes that go or change are removed first (a changed
 * node is re-created with its new shape), then the master is created, then the workers. Every
 * node the plan keeps is "created" again too: creating a running node of the same shape does
 * nothing, and one lost since is brought back. Pure.
 */
import type { NodePlan } from './spec';

export type ClusterStep = { kind: 'create' | 'remove'; node: string; role: 'master' | 'worker' };

export function stepsOf(diff: readonly NodePlan[]): ClusterStep[] {
  const removes: ClusterStep[] = diff
    .filter((d) => d.change === 'remove' || d.change === 'change')
    .map((d) => ({ kind: 'remove', node: d.node, role: (d.before ?? d.after)!.role }));
  const creates: ClusterStep[] = diff
    .filter((d) => d.after !== null)
    .map((d) => ({ kind: 'create' as const, node: d.node, role: d.after!.role }))
    .sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
  return [...removes, ...creates];
}
