/**
 * What a parent workflow does with its children and their kin: hear of a child's end, and
 * signal a set of workflows by id. Workflow-safe.
 */
import { getExternalWorkflowHandle, type ChildWorkflowHandle, type SignalDefinition, type Workflow } from '@temporalio/workflow';

/**
 * Runs `then` once the child has ended, whichever way: the children here do not fail (their
 * activities retry forever), and one an operator terminated is no longer the parent's either.
 */
export function afterEnd<T extends Workflow>(child: ChildWorkflowHandle<T>, then: () => void): void {
  void child.result().then(
    () => undefined,
    () => undefined,
  ).finally(then);
}

/** Signals each workflow; one that has already ended is skipped (its news no longer matters). */
export async function signalEach(workflowIds: Iterable<string>, signal: SignalDefinition<[]>): Promise<void> {
  await Promise.all(
    [...workflowIds].map((id) =>
      getExternalWorkflowHandle(id)
        .signal(signal)
        .catch(() => undefined),
    ),
  );
}
