/**
 * Azurite, Microsoft's Azure Storage emulator (npm `azurite`), run as a child process with its
 * state in a directory of the test's own, over HTTP or HTTPS (with a given key and cert).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../node_modules/azurite/dist/src/blob/main.js', import.meta.url));

/** Azurite's well-known development account (documented, not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export type Azurite = { port: number; blobUrl: string; connectionString: string; stop(): Promise<void> };

/**
 * `accounts`: storage accounts besides the development one, each with its own key (Azurite's
 * AZURITE_ACCOUNTS), so that one account's key cannot sign for another's.
 */
export async function startAzurite(opts: {
  dir: string;
  port: number;
  host?: string;
  tls?: { keyPath: string; certPath: string };
  accounts?: { account: string; key: string }[];
  /** Accept bearer tokens too (Azurite's `--oauth basic`, HTTPS only): see emulators/entra.ts. */
  oauth?: boolean;
}): Promise<Azurite> {
  mkdirSync(opts.dir, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const args = [BIN, '--blobHost', host, '--blobPort', String(opts.port), '--location', opts.dir, '--silent', '--skipApiVersionCheck', '--loose'];
  if (opts.tls) args.push('--cert', opts.tls.certPath, '--key', opts.tls.keyPath);
  if (opts.oauth) {
    if (!opts.tls) throw new Error('Azurite takes bearer tokens over HTTPS only: give tls too');
    args.push('--oauth', 'basic');
  }
  const env = { ...process.env };
  if (opts.accounts) {
    // Naming accounts replaces the development account, so it is named too.
    env.AZURITE_ACCOUNTS = [{ account: AZURITE_ACCOUNT, key: AZURITE_KEY }, ...opts.accounts].map((a) => `${a.account}:${a.key}`).join(';');
  }
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: opts.dir, env });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(host, opts.port, child, () => stderr);
  const scheme = opts.tls ? 'https' : 'http';
  const blobUrl = `${scheme}://${host}:${opts.port}/${AZURITE_ACCOUNT}`;
  return {
    port: opts.port,
    blobUrl,
    connectionString: `DefaultEndpointsProtocol=${scheme};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobUrl};`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => (clearTimeout(kill), resolve()));
        child.kill('SIGTERM');
      }),
  };
}

async function waitForPort(host: string, port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => (s.end(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`azurite did not listen on ${port}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const azuriteDataDir = (base: string) => path.join(base, 'azurite');
