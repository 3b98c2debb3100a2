/**
 * The decisions of one live scheduling round for one pool, around the algorithms of
 * fair-share.ts: how many cores each user is allocated, how many candidate jobs to fetch for
 * it, in which order users are served, and the per-user summary the round logs and returns.
 * Pure.
 */
import {
  fairShare,
  schedulingBudget,
  type Placement,
  type SchedulableInstance,
  type SchedulableJob,
  type UserDemand,
} from './fair-share';

export type PoolPlan = {
  /** Free cores on the pool's healthy instances: what the users share. */
  freeCoresMcpu: number;
  allocation: Map<string, number>;
  /** Users with a share, least running first, each with its slots this round. */
  budgets: Map<string, number>;
};

export function planPool(demands: readonly UserDemand[], instances: readonly SchedulableInstance[]): PoolPlan {
  let freeCoresMcpu = 0;
  for (const i of instances) if (i.healthy) freeCoresMcpu += Math.max(0, i.freeCoresMcpu);
  const allocation = fairShare(demands, freeCoresMcpu);
  let total = 0;
  for (const a of allocation.values()) total += a;
  const running = new Map<string, number>();
  for (const d of demands) running.set(d.user, (running.get(d.user) ?? 0) + d.runningCoresMcpu);
  // The least served user places first, so when cores are fragmented it is the one that fits.
  const users = [...allocation.keys()]
    .filter((u) => (allocation.get(u) ?? 0) > 0)
    .sort((a, b) => (running.get(a) ?? 0) - (running.get(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  const budgets = new Map(users.map((u) => [u, schedulingBudget(allocation.get(u) ?? 0, total)]));
  return { freeCoresMcpu, allocation, budgets };
}

/** One user's part in a round, as logged and kept in the scheduler workflow's history. */
export type UserDecision = {
  pool: string;
  user: string;
  allocationMcpu: number;
  budget: number;
  candidates: number;
  placed: number;
};

/**
 * Per-user summary of a round. `placed` counts the reservations that went through, which the
 * caller learns only after the database had its say.
 */
export function summarizeRound<J extends SchedulableJob & { user: string }>(
  pool: string,
  plan: PoolPlan,
  queues: ReadonlyMap<string, readonly J[]>,
  reserved: readonly Placement<J>[],
): UserDecision[] {
  const placed = new Map<string, number>();
  for (const p of reserved) placed.set(p.job.user, (placed.get(p.job.user) ?? 0) + 1);
  return [...plan.budgets].map(([user, budget]) => ({
    pool,
    user,
    allocationMcpu: plan.allocation.get(user) ?? 0,
    budget,
    candidates: queues.get(user)?.length ?? 0,
    placed: placed.get(user) ?? 0,
  }));
}

/**
 * Another round should follow at once when this one placed work and some user had more
 * candidates than it could look at: its budget, not the cores, was the limit.
 */
export function roundWantsMore(decisions: readonly UserDecision[]): boolean {
  return decisions.some((d) => d.placed > 0) && decisions.some((d) => d.candidates >= d.budget);
}
