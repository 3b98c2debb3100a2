/**
 * The API's door to cluster workflows: hand a cluster's workflow an accepted plan (starting
 * the workflow if the cluster has none), start an image build, and read an apply's progress.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { ApiError } from './errors';
import { BillingProjectAttr, ClusterNameAttr, ClusterStateAttr } from '../workflows/definitions';
import { applyPlanSignal, clusterProgressQuery, clusterWorkflowId, type ClusterProgress, type ClusterWorkflowInput } from '../workflows/clusters/definitions';
import { TEMPORAL_UNAVAILABLE } from './workflow-gateway';

export type ClusterGateway = ReturnType<typeof createClusterGateway>;

const DEADLINE_MS = 10_000;

export function createClusterGateway(client: Client, taskQueue: string) {
  const within = <T>(fn: () => Promise<T>) => client.connection.withDeadline(Date.now() + DEADLINE_MS, fn);
  return {
    workflowId: (cluster: string) => clusterWorkflowId(taskQueue, cluster),

    /** Signals the plan to the cluster's workflow, starting one if there is none running. */
    async apply(cluster: string, billingProject: string, planId: number): Promise<void> {
      const input: ClusterWorkflowInput = { cluster, billingProject };
      try {
        await within(() =>
          client.workflow.signalWithStart('clusterWorkflow', {
            workflowId: clusterWorkflowId(taskQueue, cluster),
            taskQueue,
            args: [input],
            signal: applyPlanSignal,
            signalArgs: [planId],
            typedSearchAttributes: [
              { key: ClusterNameAttr, value: cluster },
              { key: BillingProjectAttr, value: billingProject },
              { key: ClusterStateAttr, value: 'starting' },
            ],
          }),
        );
      } catch (e) {
        throw new ApiError('unavailable', `${TEMPORAL_UNAVAILABLE} (${String(e).slice(0, 200)})`);
      }
    },

    async progress(cluster: string): Promise<ClusterProgress | null> {
      try {
        return await within(() => client.workflow.getHandle(clusterWorkflowId(taskQueue, cluster)).query(clusterProgressQuery));
      } catch {
        return null;
      }
    },

    async buildImage(name: string): Promise<void> {
      try {
        await within(() =>
          client.workflow.start('clusterImageWorkflow', { workflowId: `cluster-image/${taskQueue}/${name}`, taskQueue, args: [{ name }] }),
        );
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError) return;
        throw new ApiError('unavailable', TEMPORAL_UNAVAILABLE);
      }
    },
  };
}
