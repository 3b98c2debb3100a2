/**
 * A container's stdout and stderr, streamed into its log file while it runs and made whole
 * once it has stopped.
 *
 * Docker's following log stream can end without the last line when that line has no newline
 * and the container exits at once (`printf 'done'`): the log driver writes such a partial line
 * only as it closes, after the follower was told the container stopped. So once the container
 * has stopped, the log is read again from the start and whatever lies past the bytes already
 * written is appended. Both reads walk the same log in the same order, so what the follower
 * wrote is a prefix of the second read.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type Docker from 'dockerode';

const LOG_DRAIN_TIMEOUT_MS = 5_000;

type Sink = { write: (chunk: Buffer) => boolean };

/** Reads one log stream to its end, demultiplexed into `sink`; resolves on end, close or error. */
function pump(docker: Docker, stream: NodeJS.ReadableStream, sink: Sink): Promise<void> {
  return new Promise<void>((resolve) => {
    // Kept for the stream's whole life: an 'error' nobody listens to kills the process.
    stream.on('error', () => resolve());
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    docker.modem.demuxStream(stream, sink as NodeJS.WritableStream, sink as NodeJS.WritableStream);
  });
}

/** Waits for `p`, but no longer than the drain timeout: a stuck stream must not hold the attempt. */
async function briefly(p: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, LOG_DRAIN_TIMEOUT_MS)));
  await Promise.race([p, late]);
  clearTimeout(timer);
}

const destroy = (stream: NodeJS.ReadableStream | undefined) => (stream as { destroy?: () => void } | undefined)?.destroy?.();

function closeFile(out: WriteStream): Promise<void> {
  return new Promise<void>((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    out.end();
  });
}

/**
 * Starts following `container`'s log into `logPath` (appended). Call drain() once the
 * container has stopped: it waits (briefly) for the stream's end, appends what the stream
 * missed, and closes the file. A container removed meanwhile keeps what was written.
 */
export function followLogs(docker: Docker, container: Docker.Container, logPath: string): { drain: () => Promise<void> } {
  const out = createWriteStream(logPath, { flags: 'a' });
  // A log file that cannot be written loses the log, not the agent.
  out.on('error', () => undefined);
  let written = 0;
  const toFile: Sink = {
    write: (chunk) => {
      written += chunk.length;
      return out.write(chunk);
    },
  };
  let stream: NodeJS.ReadableStream | undefined;
  const ended = (async () => {
    stream = await container.logs({ follow: true, stdout: true, stderr: true });
    await pump(docker, stream, toFile);
  })().catch(() => undefined); // a container removed under us has no more logs to give

  const catchUp = async () => {
    let skip = written;
    const rest: Sink = {
      write: (chunk) => {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return true;
        }
        const tail = chunk.subarray(skip);
        skip = 0;
        return out.write(tail);
      },
    };
    // Following a stopped container's log gives all of it and ends.
    const again = await container.logs({ follow: true, stdout: true, stderr: true });
    await briefly(pump(docker, again, rest));
    destroy(again);
  };

  let drained: Promise<void> | undefined;
  const finish = async () => {
    await briefly(ended);
    destroy(stream);
    await catchUp().catch(() => undefined);
    await closeFile(out);
  };
  return { drain: () => (drained ??= finish()) };
}
