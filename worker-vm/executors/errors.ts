/**
 * The error texts a container's status carries, in Hail's words: Hail's worker stores a
 * Python traceback whose last line is `<ExceptionClass>: <message>`, and Hail's clients and
 * tests match on those class names (`ContainerTimeoutError`) and on the short errors.
 */

export type ContainerError = { error: string; shortError: string };

/** What a shell answers for a command it cannot find (127) or cannot execute (126). */
export const COMMAND_NOT_FOUND_EXIT_CODE = 127;
export const COMMAND_NOT_EXECUTABLE_EXIT_CODE = 126;

export function timeoutError(timeoutMs: number): ContainerError {
  const seconds = Number.isInteger(timeoutMs / 1000) ? String(timeoutMs / 1000) : (timeoutMs / 1000).toFixed(3);
  return { error: `ContainerTimeoutError: timed out after ${seconds}s`, shortError: 'timed out' };
}

/**
 * Why an image could not be had, decided from the engine's pull error the way Hail's worker
 * decides it, with one addition for machines without a registry:
 * - the registry says the name or tag does not exist ("not found", "manifest unknown",
 *   "unknown") → image not found;
 * - no registry could be reached at all (DNS failure, refused or unreachable connection):
 *   the name exists neither locally (checked first) nor in any reachable registry → image
 *   not found. Hail's VMs always reach their registries, so Hail has no rule for this;
 * - the registry refuses us ("pull access denied", "unauthorized", "denied", "forbidden"),
 *   or anything else (a pull that timed out) → image cannot be pulled.
 */
export function pullFailure(image: string, engineMessage: string): ContainerError {
  const refused = /pull access denied|unauthorized|denied|forbidden|permission/i.test(engineMessage);
  const unreachable = /no such host|connection refused|network is unreachable|dial tcp|i\/o timeout|server misbehaving|temporary failure in name resolution/i.test(
    engineMessage,
  );
  const missing = /not found|manifest unknown|unknown|does not exist/i.test(engineMessage);
  const notFound = !refused && (missing || unreachable);
  const kind = notFound ? 'ImageNotFound' : 'ImageCannotBePulled';
  return { error: `${kind}: pulling ${image}: ${engineMessage}`, shortError: notFound ? 'image not found' : 'image cannot be pulled' };
}

/**
 * The exit code a shell would give when the runtime could not start the command at all
 * (a missing executable, as in ['sleep 5'], or one without execute permission), with the
 * runtime's reason; null when the failure is something else (an infrastructure fault).
 */
export function commandNotExecutable(runtimeMessage: string): { exitCode: number; reason: string } | null {
  const marker = 'unable to start container process: ';
  const at = runtimeMessage.lastIndexOf(marker);
  const reason = (at >= 0 ? runtimeMessage.slice(at + marker.length) : runtimeMessage).trim().replace(/: unknown$/, '');
  if (/exec: .*(executable file not found|no such file or directory)/i.test(runtimeMessage)) return { exitCode: COMMAND_NOT_FOUND_EXIT_CODE, reason };
  if (/exec: .*(permission denied|is a directory|exec format error)/i.test(runtimeMessage)) return { exitCode: COMMAND_NOT_EXECUTABLE_EXIT_CODE, reason };
  return null;
}
