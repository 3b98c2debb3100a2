/**
 * What cluster nodes cost: a node is billed like a job attempt that holds a whole machine,
 * its cores and memory at the non-preemptible compute and memory rates plus the service fee
 * per core, for as long as it exists. Pure.
 */
import { latestResourceName, MS_PER_HOUR, product, type RateCard } from '../billing-rates';
import type { QuantifiedResource } from '../billing-resources';
import { cost } from '../billing';
import type { PlannedNode } from './spec';

const MIB_PER_GIB = 1024;

/** The resources a node records when it is created (latest versions on the card). */
export function nodeResources(node: Pick<PlannedNode, 'cores' | 'memory_gib'>, card: RateCard, region: string): QuantifiedResource[] {
  const wanted: [string, number][] = [
    [product.compute(false, region), node.cores * 1000],
    [product.memory(false, region), node.memory_gib * MIB_PER_GIB],
    [product.serviceFee, node.cores * 1000],
  ];
  const out: QuantifiedResource[] = [];
  for (const [p, quantity] of wanted) {
    const name = latestResourceName(card, p);
    if (name === null) throw new RangeError(`the rate card has no ${p}`);
    out.push({ name, quantity });
  }
  return out;
}

/** Dollars per hour of the nodes. */
export function hourlyCost(nodes: readonly Pick<PlannedNode, 'cores' | 'memory_gib'>[], card: RateCard, region: string): number {
  return nodes.reduce((sum, n) => sum + cost(nodeResources(n, card, region), card, MS_PER_HOUR), 0);
}

/** The billed ms of a node: from its start to its removal, or to now while it exists. */
export function nodeBilledMs(node: { timeStarted: number; timeRemoved: number | null }, now: number): number {
  const end = node.timeRemoved ?? now;
  return Math.max(0, end - node.timeStarted);
}

/** Dollars a list of nodes has cost so far. */
export function nodesCost(
  nodes: readonly { resources: readonly QuantifiedResource[]; timeStarted: number; timeRemoved: number | null }[],
  card: RateCard,
  now: number,
): number {
  return nodes.reduce((sum, n) => sum + cost(n.resources, card, nodeBilledMs(n, now)), 0);
}
