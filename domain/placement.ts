/**
 * Best-fit placement (hail-batch-api §6): each job goes to the instance of its pool with the
 * fewest free cores that still fit it, which keeps large holes open for large jobs. Pure: the
 * caller reserves in the database and may lose races; a lost race only delays a job.
 */
export type PlaceableJob = { batchId: number; jobId: number; coresMcpu: number; pool: string };
export type PlaceableInstance = { name: string; pool: string; freeCoresMcpu: number };
export type Placement = { job: PlaceableJob; instance: string };

export function bestFit(jobs: readonly PlaceableJob[], instances: readonly PlaceableInstance[]): Placement[] {
  const free = instances.map((i) => ({ ...i }));
  const out: Placement[] = [];
  for (const job of jobs) {
    let best: (typeof free)[number] | undefined;
    for (const inst of free) {
      if (inst.pool !== job.pool || inst.freeCoresMcpu < job.coresMcpu) continue;
      if (!best || inst.freeCoresMcpu < best.freeCoresMcpu) best = inst;
    }
    if (!best) continue;
    best.freeCoresMcpu -= job.coresMcpu;
    out.push({ job, instance: best.name });
  }
  return out;
}
