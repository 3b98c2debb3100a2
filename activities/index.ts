import type { ActivityDeps } from './deps';
import type { CloudDriver } from './cloud/driver';
import { createBatchActivities } from './batch';
import { createJobActivities } from './job';
import { createSchedulerActivities } from './scheduler';
import { createBillingActivities } from './billing';
import { createAutoscalerActivities } from './autoscaler';
import { createCallbackActivities } from './callbacks';
import { createCloudDriver } from './cloud';

/** The cloud the autoscaler owns VMs in, and where those VMs report. */
export type CloudDeps = { driver: CloudDriver; apiUrl: string };

/** All activities the driver hosts; workflows import only this type. */
export function createActivities(deps: ActivityDeps, cloud?: CloudDeps) {
  const c = cloud ?? { driver: createCloudDriver(deps.config), apiUrl: deps.config.api.url };
  return {
    ...createBatchActivities(deps),
    ...createJobActivities(deps),
    ...createSchedulerActivities(deps),
    ...createBillingActivities(deps),
    ...createAutoscalerActivities(deps, c.driver, c.apiUrl),
    // Callbacks never go to the API itself, at whichever address it is known.
    ...createCallbackActivities(deps, [...new Set([c.apiUrl, deps.config.api.url])]),
  };
}

export type Activities = ReturnType<typeof createActivities>;
