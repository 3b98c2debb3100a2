/**
 * What a cloud VM's agent is told about the object store: where it is, never a secret. A
 * deployment whose driver reaches Azure Blob with a connection string still gives its VMs the
 * account's endpoint, which they reach with the workers' managed identity.
 */
import { describe, expect, it } from 'vitest';
import { blobEndpointOf, loadConfig } from '../../config';

const azure = {
  HB_CLOUD: 'azure',
  HB_AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000001',
  HB_AZURE_RESOURCE_GROUP: 'rg',
  HB_AZURE_LOCATIONS: 'eastus',
  HB_AZURE_SUBNET_ID: '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s',
  HB_OBJECT_STORE: 'azure',
  HB_AZURE_STORAGE_CONTAINER: 'hb-logs',
};

describe('the agent environment of cloud VMs', () => {
  it('names the Blob endpoint of a connection string, without its key', () => {
    const cfg = loadConfig({ ...azure, HB_AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=hbprod;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net' });
    expect(cfg.cloud.agentEnv.HB_AZURE_STORAGE_ACCOUNT_URL).toBe('https://hbprod.blob.core.windows.net');
    expect(JSON.stringify(cfg.cloud.agentEnv)).not.toContain('c2VjcmV0');
    expect(cfg.cloud.agentEnv.HB_AZURE_STORAGE_CONNECTION_STRING).toBeUndefined();
  });

  it('keeps an account URL given, and reads an explicit BlobEndpoint', () => {
    expect(loadConfig({ ...azure, HB_AZURE_STORAGE_ACCOUNT_URL: 'https://given.blob.core.windows.net' }).cloud.agentEnv.HB_AZURE_STORAGE_ACCOUNT_URL).toBe('https://given.blob.core.windows.net');
    expect(blobEndpointOf('AccountName=a;AccountKey=k;BlobEndpoint=https://127.0.0.1:9473/a;')).toBe('https://127.0.0.1:9473/a');
    expect(blobEndpointOf('AccountName=gov;AccountKey=k;EndpointSuffix=core.usgovcloudapi.net')).toBe('https://gov.blob.core.usgovcloudapi.net');
    expect(blobEndpointOf('nonsense')).toBeUndefined();
    expect(blobEndpointOf(undefined)).toBeUndefined();
  });

  it('takes the workers identity as a user-assigned identity id only', () => {
    const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/batch-worker';
    expect(loadConfig({ ...azure, HB_AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', HB_AZURE_WORKER_IDENTITY: id }).cloud.azure.workerIdentity).toBe(id);
    expect(() => loadConfig({ ...azure, HB_AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', HB_AZURE_WORKER_IDENTITY: 'batch-worker' })).toThrow(/HB_AZURE_WORKER_IDENTITY/);
  });
});
