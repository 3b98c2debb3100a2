/**
 * Cancelling a whole batch (PATCH …/cancel, DELETE …, and cancelling job group 0): marked in
 * the database first, so nothing new starts, then told to the batch workflow, which stops the
 * running jobs. A batch that was already complete has no workflow run left to tell: a short
 * run is started so Temporal's BatchState says cancelled as the API does.
 */
import type { Services } from './context';
import { cancelBatchJobs } from '../db/queries/jobs';

export async function cancelWholeBatch(s: Services, b: { id: number; user: string; billingProject: string }): Promise<void> {
  const { batchComplete, cancelled } = await cancelBatchJobs(s.db, b.id, Date.now());
  await s.workflows.cancelBatch(b.id);
  if (batchComplete && cancelled) await s.workflows.wakeBatch(b);
}
