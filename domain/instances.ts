/** Worker VM lifecycle states (hail-batch-api §8): pending → active → inactive → deleted. */
export const INSTANCE_STATES = ['pending', 'active', 'inactive', 'deleted'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** Instances that may still hold a running process or VM and so must eventually be deleted. */
export const LIVE_INSTANCE_STATES = ['pending', 'active', 'inactive'] as const satisfies readonly InstanceState[];
