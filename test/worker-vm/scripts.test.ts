import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

it('docker set-up scripts are idempotent and quiet on success', () => {
  for (const script of ['docker-engine.sh', 'build-test-image.sh', 'docker-engine.sh', 'build-test-image.sh']) {
    const run = spawnSync('bash', [path.join(root, 'scripts', script)], { cwd: root, encoding: 'utf8' });
    expect({ script, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ script, status: 0, stdout: '', stderr: '' });
  }
  const inspect = spawnSync('docker', ['image', 'inspect', 'hail-batch-busybox:latest', '--format', '{{json .Config.Cmd}}'], { encoding: 'utf8' });
  expect(inspect.stdout.trim()).toBe('["/bin/sh"]');
});
