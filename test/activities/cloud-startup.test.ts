/**
 * The worker VM startup script, rendered for each cloud and run here: a metadata server on
 * localhost speaking GCP's and Azure's instance metadata formats hands it the token, the
 * agent starts as a local process against the worker-facing API and activates with that
 * token, and when the agent exits the script "powers off" (writes a marker instead).
 * Installing Docker (already here) and pulling the worker image are the steps not run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { azureUserData, renderStartupScript, shellQuote, type StartupScriptData } from '../../activities/cloud/startup';
import { FakeApi } from '../worker-vm/fake-api';
import { startMetadataServer } from '../support/emulators/vm-agents';

const root = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(tmpdir(), 'hb-startup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const base = (over: Partial<StartupScriptData> = {}): StartupScriptData => ({
  name: 'batch-worker-prod-standard-abc12',
  pool: 'standard',
  cores: 2,
  workerImage: 'us-docker.pkg.dev/proj/hail-batch/worker:1.0',
  activationToken: 'tok-secret-123',
  apiUrl: 'https://batch.example.org',
  agentEnv: { HB_OBJECT_STORE: 'gcs', HB_GCS_BUCKET: 'hb-logs' },
  ...over,
});

/** The script inside Azure's cloud-config (written by cloud-init from base64). */
function azureScript(cloudConfig: string): string {
  const b64 = /content: ([A-Za-z0-9+/=]+)/.exec(cloudConfig)?.[1];
  if (!b64) throw new Error('no script in the cloud-config');
  return Buffer.from(b64, 'base64').toString();
}

describe('renderStartupScript', () => {
  it('keeps the token out of the script and hands it over as metadata', () => {
    const gcp = renderStartupScript('gcp', base());
    expect(gcp.script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(gcp.script).not.toContain('tok-secret-123');
    expect(gcp.secrets).toEqual({ activation_token: 'tok-secret-123', api_url: 'https://batch.example.org' });
    expect(gcp.script).toContain("'HB_GCS_BUCKET=hb-logs'");
    expect(gcp.script).toContain('metadata.google.internal');
    const azure = renderStartupScript('azure', base());
    expect(azure.script.startsWith('#cloud-config\n')).toBe(true);
    expect(azure.script).not.toContain('tok-secret-123');
    expect(azureScript(azure.script)).toContain('169.254.169.254');
    expect(Buffer.from(azureUserData(azure.secrets), 'base64').toString()).toBe('activation_token=tok-secret-123\napi_url=https://batch.example.org\n');
  });

  it('refuses values that could break out of the script', () => {
    const cases: [Partial<StartupScriptData>, RegExp][] = [
      [{ name: 'x; rm -rf /' }, /name/],
      [{ pool: '$(id)' }, /pool/],
      [{ cores: 0 }, /cores/],
      [{ workerImage: 'img`id`' }, /workerImage/],
      [{ activationToken: 'a b' }, /activationToken/],
      [{ apiUrl: 'file:///etc/passwd' }, /apiUrl/],
      [{ agentEnv: { HB_AGENT_ACTIVATION_TOKEN: 'x' } }, /agentEnv/],
      [{ agentEnv: { 'BAD KEY': 'x' } }, /agentEnv/],
      [{ agentEnv: { HB_X: 'a\nb' } }, /agentEnv/],
    ];
    for (const [over, field] of cases) expect(() => renderStartupScript('gcp', base(over))).toThrow(field);
    // Quotes inside a value stay literal.
    expect(renderStartupScript('gcp', base({ agentEnv: { HB_X: "it's $HOME" } })).script).toContain(shellQuote("HB_X=it's $HOME"));
  });

  it('is valid bash for both clouds', async () => {
    for (const cloud of ['gcp', 'azure'] as const) {
      const r = renderStartupScript(cloud, base());
      const file = path.join(work, `syntax-${cloud}.sh`);
      writeFileSync(file, cloud === 'gcp' ? r.script : azureScript(r.script));
      const code = await new Promise<number | null>((resolve) => spawn('bash', ['-n', file], { stdio: 'inherit' }).once('exit', resolve));
      expect(code).toBe(0);
    }
  });
});

for (const cloud of ['gcp', 'azure'] as const) {
  describe(`startup script on ${cloud}`, () => {
    it('reads the token from metadata, starts an agent that activates with it, and powers off when the agent exits', async () => {
      const name = `startup-${cloud}-${process.pid}`;
      const token = `activate-${name}`;
      const api = await new FakeApi({ activationToken: token }).start();
      const rendered = renderStartupScript(cloud, base({ name, activationToken: token, apiUrl: api.url, agentPort: cloud === 'gcp' ? 9444 : 9445, agentEnv: { HB_REGION: 'test-region-1' } }));
      // The emulators' metadata service, holding what each cloud's driver stores for the VM.
      const metadata = await startMetadataServer((vm) =>
        vm !== name ? null : cloud === 'gcp' ? { kind: 'gcp', attributes: rendered.secrets } : { kind: 'azure', userData: azureUserData(rendered.secrets), managedIdentity: null },
      );
      const dir = mkdtempSync(path.join(work, `${cloud}-`));
      const scriptFile = path.join(dir, 'startup.sh');
      writeFileSync(scriptFile, cloud === 'gcp' ? rendered.script : azureScript(rendered.script));
      const poweroff = path.join(dir, 'poweroff');
      const child = spawn('bash', [scriptFile], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          HB_STARTUP_METADATA_URL: `${metadata.url}/vm/${name}`,
          HB_STARTUP_POWEROFF_FILE: poweroff,
          HB_STARTUP_AGENT_COMMAND: `${process.execPath} --import tsx ${path.join(root, 'cli/main.ts')} agent`,
          HB_STARTUP_DATA_DIR: path.join(dir, 'data'),
          HB_EXECUTOR: 'process',
          HB_LOG_LEVEL: 'error',
          HB_AGENT_HEARTBEAT_MS: '200',
        },
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        const activation = await api.waitFor(() => api.of('activate')[0], 60_000);
        expect(activation.name).toBe(name);
        expect(activation.body).toEqual({ ip_address: '127.0.0.1', port: cloud === 'gcp' ? 9444 : 9445 });
        await api.waitFor(() => api.of('heartbeat')[0]);
        expect(api.rejected).toEqual([]);
        expect(existsSync(poweroff)).toBe(false);
        // The agent ends (as when it is told to stop): the script powers the VM off.
        const agentPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
        // The non-secret settings reach the agent as a VM's docker run would pass them.
        expect(readFileSync(`/proc/${agentPid}/environ`, 'utf8').split('\0')).toContain('HB_REGION=test-region-1');
        process.kill(agentPid, 'SIGTERM');
        expect(await exited).toBe(0);
        expect(existsSync(poweroff)).toBe(true);
        expect(stderr).toContain('agent exited; powering off');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await metadata.close();
        await api.stop();
      }
    });
  });
}
