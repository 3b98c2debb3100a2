/**
 * Maps a job's input_files / output_files to the two kinds of copy a step makes: host files
 * (`file://` URLs and absolute paths), copied by the executor's copier, and cloud objects
 * (gs:// and Azure Blob URLs), copied by the agent as the job's user (cloud-copy.ts). Whether
 * the job may touch a host path is storage-access.ts's question, asked after this.
 */
import path from 'node:path';
import type { FileTransfer } from '../domain/job-spec';
import { parseCloudUrl } from '../storage/cloud-urls';
import { hostPathOf } from '../storage/confine';
import type { CloudTransfer } from './cloud-copy';
import type { Transfer } from './executors/executor';

export type TransferPlan = { ok: true; transfers: Transfer[]; cloud: CloudTransfer[] } | { ok: false; error: string };

export function planTransfers(direction: 'input' | 'output', files: FileTransfer[]): TransferPlan {
  const transfers: Transfer[] = [];
  const cloud: CloudTransfer[] = [];
  for (const f of files) {
    const [url, ioUrl] = direction === 'input' ? [f.from, f.to] : [f.to, f.from];
    const ioPath = toIoPath(ioUrl);
    if (ioPath === null) return { ok: false, error: `container path ${JSON.stringify(ioUrl)} must be under /io` };
    const object = parseCloudUrl(url);
    if (object !== null) {
      if (!object.ok) return { ok: false, error: object.reason };
      cloud.push({ url, object: object.object, ioPath });
      continue;
    }
    const hostPath = hostPathOf(url);
    if (hostPath === null) return { ok: false, error: `unsupported location ${JSON.stringify(url)}: only file:// URLs, absolute paths, gs:// and Azure Blob URLs` };
    transfers.push({ hostPath, ioPath });
  }
  return { ok: true, transfers, cloud };
}

/** Containers share only /io, so a file copied anywhere else would be lost to the others. */
function toIoPath(p: string): string | null {
  if (p.includes('\0')) return null;
  const normalized = path.posix.normalize(p);
  if (!normalized.startsWith('/io/')) return null;
  const rel = normalized.slice('/io/'.length);
  return rel === '' || rel.split('/').includes('..') ? null : rel;
}
