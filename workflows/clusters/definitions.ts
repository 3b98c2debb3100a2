/** Names the cluster workflow, the API and the CLI share. */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const clusterWorkflowId = (taskQueue: string, cluster: string) => `cluster/${taskQueue}/${cluster}`;

/** Carry out this stored plan (its id); repeats of an id already taken are ignored. */
export const applyPlanSignal = defineSignal<[number]>('applyPlan');

export type { ClusterStep } from '../../domain/clusters/steps';
import type { ClusterStep } from '../../domain/clusters/steps';
export type ClusterProgress = {
  planId: number | null;
  steps: (ClusterStep & { state: 'pending' | 'running' | 'done' })[];
  phase: 'idle' | 'nodes' | 'waiting-for-spark' | 'reconciling' | 'done';
};
export const clusterProgressQuery = defineQuery<ClusterProgress>('progress');

export type ClusterWorkflowInput = { cluster: string; billingProject: string; pending?: number[]; done?: number[] };
