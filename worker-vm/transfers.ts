/**
 * Maps a job's input_files / output_files to host paths and paths inside /io. Only local
 * files exist here: `file://` URLs and plain absolute paths. Cloud URLs would need a bucket
 * client in the copier; they are refused with a message in the copier's log. Whether the job
 * may touch a host path is storage-access.ts's question, asked after this.
 */
import path from 'node:path';
import type { FileTransfer } from '../domain/job-spec';
import { hostPathOf } from '../storage/confine';
import type { Transfer } from './executors/executor';

export type TransferPlan = { ok: true; transfers: Transfer[] } | { ok: false; error: string };

export function planTransfers(direction: 'input' | 'output', files: FileTransfer[]): TransferPlan {
  const transfers: Transfer[] = [];
  for (const f of files) {
    const [hostUrl, ioUrl] = direction === 'input' ? [f.from, f.to] : [f.to, f.from];
    const hostPath = hostPathOf(hostUrl);
    if (hostPath === null) return { ok: false, error: `unsupported location ${JSON.stringify(hostUrl)}: only file:// URLs and absolute paths` };
    const ioPath = toIoPath(ioUrl);
    if (ioPath === null) return { ok: false, error: `container path ${JSON.stringify(ioUrl)} must be under /io` };
    transfers.push({ hostPath, ioPath });
  }
  return { ok: true, transfers };
}

/** Containers share only /io, so a file copied anywhere else would be lost to the others. */
function toIoPath(p: string): string | null {
  if (p.includes('\0')) return null;
  const normalized = path.posix.normalize(p);
  if (!normalized.startsWith('/io/')) return null;
  const rel = normalized.slice('/io/'.length);
  return rel === '' || rel.split('/').includes('..') ? null : rel;
}
