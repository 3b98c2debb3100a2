/**
 * The pure parts of cluster nodes on cloud VMs: the node startup script (secret kept out of
 * it, hostile values refused, valid bash), the machine sizes of node shapes on each cloud, and
 * the shape label.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderNodeStartup, NODE_SECRET_KEY, type NodeStartupData } from '../../activities/clusters/node-startup';
import { gcpNodeMachineType } from '../../activities/cloud/gcp/nodes';
import { azureNodeVmSize } from '../../activities/cloud/azure/nodes';
import { shapeLabel } from '../../activities/clusters/vm-nodes';

const data: NodeStartupData = {
  vmName: 'hbc-prod-ld14-worker-1',
  cluster: 'ld14',
  node: { name: 'ld14-worker-1', role: 'worker', image: 'hail-base/1.0.0', cores: 4, memory_gib: 16 },
  imageRef: 'us-docker.pkg.dev/p/hail/hail-batch-cluster:0123456789abcdef',
  sparkMaster: 'spark://hbc-prod-ld14-master:7077',
  jupyterBaseUrl: '/clusters/ld14/jupyter/',
  secret: 's3cr3t-0123456789abcdef0123456789',
};

describe('node startup script', () => {
  it('keeps the secret in the metadata, never in the script, and is valid bash on both clouds', () => {
    for (const cloud of ['gcp', 'azure'] as const) {
      const r = renderNodeStartup(cloud, data);
      expect(r.secrets).toEqual({ [NODE_SECRET_KEY]: data.secret });
      expect(r.script).not.toContain(data.secret);
      const bash = cloud === 'gcp' ? r.script : Buffer.from(/content: (\S+)/.exec(r.script)![1]!, 'base64').toString('utf8');
      expect(bash).not.toContain(data.secret);
      expect(bash).toContain("MASTER_HOST='hbc-prod-ld14-master'");
      expect(bash).toContain('HB_WORKER_MEMORY=15872m');
      expect(spawnSync('bash', ['-n'], { input: bash }).status).toBe(0);
    }
  });

  it('refuses values that could break out of the script', () => {
    expect(() => renderNodeStartup('gcp', { ...data, imageRef: 'x; rm -rf /' })).toThrow(/imageRef/);
    expect(() => renderNodeStartup('gcp', { ...data, vmName: 'a$(id)' })).toThrow(/VM names/);
    expect(() => renderNodeStartup('gcp', { ...data, sparkMaster: "spark://m:7077'; id" })).toThrow(/sparkMaster/);
    expect(() => renderNodeStartup('gcp', { ...data, jupyterBaseUrl: "/x'/" })).toThrow(/jupyterBaseUrl/);
    expect(() => renderNodeStartup('gcp', { ...data, secret: 'short' })).toThrow(/secret/);
  });
});

describe('node machine sizes', () => {
  it('GCE: N1 custom types of 1 or an even number of vCPUs, extended memory past 6.5 GiB a vCPU', () => {
    expect(gcpNodeMachineType(1, 2)).toBe('custom-1-2048');
    expect(gcpNodeMachineType(3, 4)).toBe('custom-4-4096');
    // At least 0.9 GiB a vCPU.
    expect(gcpNodeMachineType(8, 1)).toBe('custom-8-7424');
    expect(gcpNodeMachineType(2, 16)).toBe('custom-2-16384-ext');
  });

  it('Azure: the smallest D (4 GiB a vCPU) or E (8 GiB) v5 size that holds the node', () => {
    expect(azureNodeVmSize(1, 2)).toBe('Standard_D2s_v5');
    expect(azureNodeVmSize(4, 16)).toBe('Standard_D4s_v5');
    expect(azureNodeVmSize(4, 32)).toBe('Standard_E4s_v5');
    expect(azureNodeVmSize(96, 384)).toBe('Standard_D96s_v5');
    expect(azureNodeVmSize(96, 624)).toBe('Standard_E96s_v5');
    expect(() => azureNodeVmSize(97, 1)).toThrow(/no Azure VM size/);
  });

  it('shape labels are short, label-safe and differ by shape', () => {
    const a = shapeLabel('worker:4c:16g:hail-batch-cluster:0123456789abcdef');
    expect(a).toMatch(/^s[0-9a-f]{8}$/);
    expect(shapeLabel('worker:4c:16g:hail-batch-cluster:0123456789abcdef')).toBe(a);
    expect(shapeLabel('worker:4c:32g:hail-batch-cluster:0123456789abcdef')).not.toBe(a);
  });
});
