import type { ActivityDeps } from './deps';
import { createBatchActivities } from './batch';
import { createJobActivities } from './job';
import { createSchedulerActivities } from './scheduler';

/** All activities the driver hosts; workflows import only this type. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createBatchActivities(deps),
    ...createJobActivities(deps),
    ...createSchedulerActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
