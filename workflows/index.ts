export { batchWorkflow } from './batch';
export { jobWorkflow } from './job';
export { schedulerWorkflow } from './scheduler';
