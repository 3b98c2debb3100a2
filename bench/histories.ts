/**
 * Temporal's cost of a batch, read from the real histories after it completed: events and
 * workflow tasks per job, for the batch workflow's history chain (every run of `batch-<id>`,
 * continue-as-new included), for its partitions (every run of every slot) and for the job
 * workflows separately. Job workflows are sampled
 * evenly (their histories all have the same shape, and fetching 100,000 of them would take
 * longer than the batch), the batch chain is read whole.
 */
import type { Client } from '@temporalio/client';
import { batchPartitionWorkflowId, batchWorkflowId, jobWorkflowId } from '../workflows/definitions';

/** An event's type, by the one `…EventAttributes` field it carries (e.g. `timerStarted`). */
function eventTypeName(e: object): string {
  for (const [k, v] of Object.entries(e)) if (k.endsWith('EventAttributes') && v != null) return k.slice(0, -'EventAttributes'.length);
  return 'unknown';
}

export type HistoryCost = {
  /** Runs on the batch workflow's chain. */
  batchRuns: number;
  batchEvents: number;
  batchWorkflowTasks: number;
  batchEventsPerJob: number;
  batchTasksPerJob: number;
  /** Runs of the batch's partitions, all slots, and their events and tasks per job. */
  partitionRuns: number;
  partitionEventsPerJob: number;
  partitionTasksPerJob: number;
  /** Job workflows read, and their mean events and workflow tasks. */
  jobSample: number;
  jobEventsPerJob: number;
  jobTasksPerJob: number;
  jobEventsMax: number;
  /** Mean per sampled job of each event type: shows what a figure above the happy path is made of (e.g. task timeouts under load). */
  jobEventTypes: Record<string, number>;
};

type Counted = { events: number; tasks: number; types: Map<string, number> };

async function countHistory(client: Client, workflowId: string, runId?: string): Promise<Counted | null> {
  try {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    // A workflow task is counted when it was scheduled: each one is a trip through matching.
    const tasks = events.filter((e) => e.workflowTaskScheduledEventAttributes != null).length;
    const types = new Map<string, number>();
    for (const e of events) {
      const name = eventTypeName(e);
      types.set(name, (types.get(name) ?? 0) + 1);
    }
    return { events: events.length, tasks, types };
  } catch {
    return null;
  }
}

/** Every run of the given workflow ids (continue-as-new and reused ids included), summed. */
async function countChains(client: Client, workflowIds: readonly string[]): Promise<{ runs: number; events: number; tasks: number }> {
  const sum = { runs: 0, events: 0, tasks: 0 };
  for (const wid of workflowIds) {
    for await (const w of client.workflow.list({ query: `WorkflowId = '${wid}'` })) {
      const c = await countHistory(client, wid, w.runId);
      if (!c) continue;
      sum.runs++;
      sum.events += c.events;
      sum.tasks += c.tasks;
    }
  }
  return sum;
}

/** Slots looked at for partitions: as many as any deployment configures (HB_BATCH_PARTITIONS ≤ 64). */
const MAX_SLOTS = 64;

/** A batch's partitions, slot by slot: slots are taken lowest first, so the first unused one ends the list. */
async function countPartitions(client: Client, batchId: number): Promise<{ runs: number; events: number; tasks: number }> {
  const sum = { runs: 0, events: 0, tasks: 0 };
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const c = await countChains(client, [batchPartitionWorkflowId(batchId, slot)]);
    if (c.runs === 0) break;
    sum.runs += c.runs;
    sum.events += c.events;
    sum.tasks += c.tasks;
  }
  return sum;
}

export async function historyCost(client: Client, batchId: number, jobIds: readonly number[], sample = 200): Promise<HistoryCost> {
  const batch = await countChains(client, [batchWorkflowId(batchId)]);
  const runs = { length: batch.runs };
  const batchEvents = batch.events;
  const batchTasks = batch.tasks;
  const parts = await countPartitions(client, batchId);
  const step = Math.max(1, Math.floor(jobIds.length / sample));
  const picked = jobIds.filter((_, k) => k % step === 0).slice(0, sample);
  const counted: Counted[] = [];
  for (let k = 0; k < picked.length; k += 20) {
    const part = await Promise.all(picked.slice(k, k + 20).map((j) => countHistory(client, jobWorkflowId(batchId, j))));
    for (const c of part) if (c) counted.push(c);
  }
  const n = Math.max(1, jobIds.length);
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const r2 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    batchRuns: runs.length,
    batchEvents,
    batchWorkflowTasks: batchTasks,
    batchEventsPerJob: r2(batchEvents / n),
    batchTasksPerJob: r2(batchTasks / n),
    partitionRuns: parts.runs,
    partitionEventsPerJob: r2(parts.events / n),
    partitionTasksPerJob: r2(parts.tasks / n),
    jobSample: counted.length,
    jobEventsPerJob: r2(mean(counted.map((c) => c.events))),
    jobTasksPerJob: r2(mean(counted.map((c) => c.tasks))),
    jobEventsMax: Math.max(0, ...counted.map((c) => c.events)),
    jobEventTypes: meanTypes(counted, r2),
  };
}

function meanTypes(counted: Counted[], r2: (x: number) => number): Record<string, number> {
  const sum = new Map<string, number>();
  for (const c of counted) for (const [k, v] of c.types) sum.set(k, (sum.get(k) ?? 0) + v);
  return Object.fromEntries([...sum].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r2(v / Math.max(1, counted.length))]));
}
