export { batchWorkflow } from './batch';
export { batchPartitionWorkflow } from './batch-partition';
export { jobWorkflow } from './job';
export { schedulerWorkflow } from './scheduler';
export { billingLimitsWorkflow } from './billing-limits';
export { pricesWorkflow } from './prices';
export { autoscalerWorkflow } from './autoscaler';
export { callbacksWorkflow } from './callbacks';
export { clusterWorkflow, clusterImageWorkflow } from './clusters/cluster';
