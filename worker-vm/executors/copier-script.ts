/**
 * The shell script and mounts of the Docker copier container. Its host paths are already
 * resolved and allowed (storage-access.ts): each input is mounted on its own, read-only, each
 * output through its (already made) parent directory, and nothing else of the host. busybox
 * `cp` does the copying so that the copier image needs nothing but a shell. Only regular files
 * and directories are copied: a link or a device node in a tree fails the copy, so the copier
 * never plants a link in a storage root nor reads a device through one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Transfer } from './executor';

export type Mount = { Type: 'bind'; Source: string; Target: string; ReadOnly: boolean };

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function copierScript(direction: 'input' | 'output', transfers: Transfer[]): { script: string; mounts: Mount[] } {
  const lines = ['set -e'];
  const mounts: Mount[] = [];
  const outDirs = new Map<string, string>();
  transfers.forEach((t, i) => {
    const io = `/io/${t.ioPath}`;
    if (direction === 'input') {
      if (!existsSync(t.hostPath)) {
        lines.push(`echo ${shellQuote(`input ${t.hostPath}: No such file or directory`)} >&2`, 'exit 1');
        return;
      }
      const src = `/hail-in/${i}`;
      mounts.push({ Type: 'bind', Source: t.hostPath, Target: src, ReadOnly: true });
      lines.push(...copyLines(src, io, `${t.hostPath} -> ${io}`));
    } else {
      const parent = path.posix.dirname(t.hostPath);
      let target = outDirs.get(parent);
      if (target === undefined) {
        target = `/hail-out/${outDirs.size}`;
        outDirs.set(parent, target);
        mounts.push({ Type: 'bind', Source: parent, Target: target, ReadOnly: false });
      }
      lines.push(...copyLines(io, `${target}/${path.posix.basename(t.hostPath)}`, `${io} -> ${t.hostPath}`));
    }
  });
  return { script: lines.join('\n'), mounts };
}

function copyLines(src: string, dst: string, label: string): string[] {
  const [s, d] = [shellQuote(src), shellQuote(dst)];
  return [
    `echo ${shellQuote(`copying ${label}`)}`,
    `odd="$(find ${s} ! -type f ! -type d | head -n 1)"`,
    `if [ -n "$odd" ]; then echo "refused: $odd is not a regular file or directory" >&2; exit 1; fi`,
    `mkdir -p "$(dirname ${d})"`,
    // rm first so a directory source replaces the destination instead of nesting inside it.
    `rm -rf ${d}`,
    `cp -R ${s} ${d}`,
  ];
}
