import type { ActivityDeps } from './deps';
import type { CloudDriver } from './cloud/driver';
import { createBatchActivities } from './batch';
import { createJobActivities } from './job';
import { createSchedulerActivities } from './scheduler';
import { createBillingActivities } from './billing';
import { createAutoscalerActivities } from './autoscaler';
import { createCallbackActivities } from './callbacks';
import { createPriceActivities } from './prices';
import { createLocalDriver } from './cloud/local';
import { createClusterActivities } from './clusters';
import { createClusterNodeDriver } from './clusters/drivers';
import type { ClusterNodeDriver } from './clusters/node-driver';

/** The cloud the autoscaler owns VMs in, and where those VMs report. */
export type CloudDeps = { driver: CloudDriver; apiUrl: string; clusterNodes?: ClusterNodeDriver };

/** All activities the driver hosts; workflows import only this type. */
export function createActivities(deps: ActivityDeps, cloud?: CloudDeps) {
  // Without a cloud given (tests of activities alone), the local one; the driver process passes
  // the configured cloud (cli/driver.ts).
  const c = cloud ?? { driver: createLocalDriver(deps.config), apiUrl: deps.config.api.url };
  return {
    ...createBatchActivities(deps),
    ...createJobActivities(deps),
    ...createSchedulerActivities(deps),
    ...createBillingActivities(deps),
    ...createAutoscalerActivities(deps, c.driver, c.apiUrl),
    ...createPriceActivities(deps, c.driver),
    // Callbacks never go to the API itself, at whichever address it is known.
    ...createCallbackActivities(deps, [...new Set([c.apiUrl, deps.config.api.url])]),
    ...createClusterActivities(deps, c.clusterNodes ?? createClusterNodeDriver(deps.config, deps.db)),
  };
}

export type Activities = ReturnType<typeof createActivities>;
