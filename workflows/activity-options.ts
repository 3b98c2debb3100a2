import type { ActivityOptions } from '@temporalio/workflow';

/** Database activities: short, retried forever with backoff (they are idempotent). */
export const dbActivity: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
};
