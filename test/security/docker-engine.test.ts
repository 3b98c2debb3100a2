/**
 * scripts/docker-engine.sh touches only the engine it started itself (its own pid file, pid
 * and start time), never one it merely finds by name. Fake `docker` and `dockerd` on PATH
 * stand in for a wedged engine, so the machine's real engine is never at stake.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { processStartTime } from '../../cli/process-records';

const script = path.resolve(import.meta.dirname, '../../scripts/docker-engine.sh');
let dir = '';
const started: ChildProcess[] = [];

afterEach(async () => {
  for (const p of started.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A bin directory whose `docker info` answers only once a started fake dockerd has marked it. */
async function fakes(): Promise<{ bin: string; state: string; mark: string; env: NodeJS.ProcessEnv }> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hb-docker-engine-'));
  const bin = path.join(dir, 'bin');
  const state = path.join(dir, 'state');
  const mark = path.join(dir, 'engine-up');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'docker'), `#!/bin/bash\n[ -f "${mark}" ]\n`);
  writeFileSync(path.join(bin, 'dockerd'), `#!/bin/bash\ntouch "${mark}"\nexec sleep 300\n`);
  chmodSync(path.join(bin, 'docker'), 0o755);
  chmodSync(path.join(bin, 'dockerd'), 0o755);
  return { bin, state, mark, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HB_DOCKER_STATE_DIR: state } };
}

/** A process whose command name is `dockerd`: what `pkill -x dockerd` would have killed. */
function foreignEngine(): ChildProcess {
  const exe = path.join(dir, 'foreign', 'dockerd');
  mkdirSync(path.dirname(exe), { recursive: true });
  copyFileSync('/bin/sleep', exe);
  const p = spawn(exe, ['300'], { stdio: 'ignore' });
  started.push(p);
  return p;
}

async function settle(p: ChildProcess): Promise<string> {
  for (let i = 0; i < 50 && processStartTime(p.pid!) === null; i++) await new Promise((r) => setTimeout(r, 20));
  return processStartTime(p.pid!)!;
}

it('refuses, and leaves alone, a wedged engine it did not start', async () => {
  const { env, state } = await fakes();
  const foreign = foreignEngine();
  const before = await settle(foreign);
  const run = spawnSync('bash', [script], { env, encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/this script did not start/);
  expect(processStartTime(foreign.pid!)).toBe(before);
  expect(existsSync(path.join(state, 'dockerd.ours'))).toBe(false);
});

it('restarts the wedged engine it started, and nothing else', async () => {
  const { env, state, mark } = await fakes();
  const foreign = foreignEngine();
  const foreignStart = await settle(foreign);
  // The engine a previous run started: recorded by pid and start time, now not answering.
  const ours = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  started.push(ours);
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(state, 'dockerd.ours'), `${ours.pid} ${await settle(ours)}\n`);

  const run = spawnSync('bash', [script], { env, encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).toMatch(/the dockerd this script started is not answering; restarting it/);
  expect(run.status).toBe(0);
  expect(existsSync(mark)).toBe(true);
  for (let i = 0; i < 50 && processStartTime(ours.pid!) !== null; i++) await new Promise((r) => setTimeout(r, 20));
  expect(processStartTime(ours.pid!)).toBeNull();
  expect(processStartTime(foreign.pid!)).toBe(foreignStart);
  // The new engine is recorded as ours; stop it as the script would next time.
  const [pid] = readFileSync(path.join(state, 'dockerd.ours'), 'utf8').trim().split(' ');
  expect(Number(pid)).not.toBe(ours.pid);
  process.kill(Number(pid), 'SIGKILL');
});
