/**
 * Per-attempt scratch volumes that enforce the storage quota locally: a sparse file holding
 * an ext4 file system of the quota's size, loop-mounted in the attempt's directory. The
 * attempt's /io lives on it, and so does main's writable container layer (its overlay upper
 * and work directories, bound over the layer's directory before the container starts), so
 * /io and the root file system share one limit, as Hail's xfs project quota makes them.
 * Over it, a write fails with "No space left on device" inside the job.
 *
 * Needs root, mount and mkfs.ext4; without them attempts run unlimited (the agent says so
 * once at start). Every mount is undone when its attempt ends; mounts a killed agent left
 * behind are found by their loop device's backing file and undone at the next start.
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readFile, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isWithin } from '../storage/confine';

const run = promisify(execFile);
const MIB = 1024 ** 2;
// ext4's own tables take about 1.6% (one 256-byte inode per 16 KiB) plus a little fixed space;
// the file system is made this much larger so the job gets at least what it asked for.
const OVERHEAD_RATIO = 1.02;
const OVERHEAD_BYTES = 32 * MIB;
const COMMAND_TIMEOUT_MS = 60_000;
const MERGED_UNMOUNT_WAIT_MS = 2_000;

export type ScratchVolume = {
  /** The mounted file system's root. */
  root: string;
  ioDir: string;
  /** Where main's writable layer lives on the volume. */
  writableLayerDir: string;
  /** Unmounts and deletes the volume; safe to call twice. */
  release(): Promise<void>;
};

export class ScratchVolumes {
  private constructor() {}

  /** Null when this machine cannot make volumes (not root, or no mkfs.ext4 or mount). */
  static async detect(): Promise<ScratchVolumes | null> {
    if (process.getuid?.() !== 0) return null;
    try {
      await run('mkfs.ext4', ['-V'], { timeout: COMMAND_TIMEOUT_MS });
      await run('mount', ['--version'], { timeout: COMMAND_TIMEOUT_MS });
      await run('umount', ['--version'], { timeout: COMMAND_TIMEOUT_MS });
    } catch {
      return null;
    }
    return new ScratchVolumes();
  }

  /** Makes and mounts a volume of at least `bytes` at `mountPoint`, backed by `imagePath`. */
  async provision(imagePath: string, mountPoint: string, bytes: number): Promise<ScratchVolume> {
    const size = Math.ceil(bytes * OVERHEAD_RATIO) + OVERHEAD_BYTES;
    await mkdir(mountPoint, { recursive: true });
    const file = await open(imagePath, 'w', 0o600);
    try {
      await file.truncate(size); // sparse: the host disk holds only what the job writes
    } finally {
      await file.close();
    }
    let mounted = false;
    const release = async () => {
      if (mounted) await unmount(mountPoint);
      mounted = false;
      await rm(imagePath, { force: true });
    };
    try {
      // No journal and no reserved blocks: scratch space that dies with the attempt.
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'nodiscard', imagePath], { timeout: COMMAND_TIMEOUT_MS });
      await run('mount', ['-o', 'loop,nosuid,nodev', imagePath, mountPoint], { timeout: COMMAND_TIMEOUT_MS });
      mounted = true;
      const ioDir = path.join(mountPoint, 'io');
      const writableLayerDir = path.join(mountPoint, 'layer');
      await mkdir(ioDir);
      await mkdir(writableLayerDir, { mode: 0o710 });
      await rm(path.join(mountPoint, 'lost+found'), { recursive: true, force: true });
      return { root: mountPoint, ioDir, writableLayerDir, release };
    } catch (err) {
      await release().catch(() => undefined);
      throw new Error(`making the attempt's scratch volume: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/**
 * Moves a created (not yet started) container's writable layer onto a volume: copies the
 * layer directory's few entries (empty upper and work directories, the lower-layer list)
 * there and binds it over the original, so the overlay Docker mounts at start writes to the
 * volume. Returns the undo, to call once the container has stopped and before it is removed.
 */
export async function bindWritableLayer(upperDir: string, onVolume: string): Promise<() => Promise<void>> {
  const layerDir = path.dirname(upperDir);
  await run('cp', ['-a', `${layerDir}/.`, `${onVolume}/`], { timeout: COMMAND_TIMEOUT_MS });
  await run('mount', ['--bind', onVolume, layerDir], { timeout: COMMAND_TIMEOUT_MS });
  return async () => {
    // Docker unmounts the container's root file system just after it exits; let it, so the
    // bind comes off cleanly instead of lazily.
    const merged = ` ${path.join(layerDir, 'merged')} `;
    for (let waited = 0; waited < MERGED_UNMOUNT_WAIT_MS; waited += 50) {
      const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
      if (!mountinfo.includes(merged)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await unmount(layerDir);
  };
}

async function unmount(target: string): Promise<void> {
  try {
    await run('umount', [target], { timeout: COMMAND_TIMEOUT_MS });
  } catch {
    // Still busy (a process of the job hanging on): detach it now, the kernel frees it later.
    await run('umount', ['-l', target], { timeout: COMMAND_TIMEOUT_MS }).catch(() => undefined);
  }
}

/**
 * Unmounts every mount of a loop device whose backing file is inside `scratchDir`: volumes
 * and writable-layer binds left by an agent that was killed. Binds go first, so the volume
 * itself is no longer busy. Returns how many mounts were undone.
 */
export async function removeLeftoverMounts(scratchDir: string): Promise<number> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const mounts = mountinfo
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left = '', right = ''] = line.split(' - ');
      const mountPoint = unescapeMount(left.split(' ')[4] ?? '');
      const source = unescapeMount(right.split(' ')[1] ?? '');
      return { mountPoint, source };
    });
  // The kernel names backing files by their real path.
  const root = await realpath(scratchDir).catch(() => path.resolve(scratchDir));
  const ours = new Map<string, boolean>();
  const isOurs = async (source: string): Promise<boolean> => {
    const m = /^\/dev\/(loop\d+)$/.exec(source);
    if (!m) return false;
    if (!ours.has(source)) {
      const backing = await readFile(`/sys/block/${m[1]}/loop/backing_file`, 'utf8').catch(() => '');
      const file = backing.trim().replace(/ \(deleted\)$/, '');
      ours.set(source, file !== '' && isWithin(file, root));
    }
    return ours.get(source)!;
  };
  const found: { mountPoint: string; bind: boolean }[] = [];
  for (const m of mounts) {
    if (await isOurs(m.source)) found.push({ mountPoint: m.mountPoint, bind: !isWithin(m.mountPoint, root) });
  }
  // Binds first, then the deepest mount points first.
  found.sort((a, b) => Number(b.bind) - Number(a.bind) || b.mountPoint.length - a.mountPoint.length);
  for (const m of found) await unmount(m.mountPoint);
  return found.length;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
