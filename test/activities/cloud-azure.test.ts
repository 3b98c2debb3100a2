/** The conformance suite on the Azure driver, against the ARM emulator. */
import { loadConfig } from '../../config';
import { createAzureDriver } from '../../activities/cloud/azure';
import { startArmEmulator } from '../support/emulators/arm';
import { conformance } from './cloud-conformance';

const subscriptionId = '00000000-0000-4000-8000-000000000001';
const resourceGroup = 'hail-batch-test';

conformance('azure', { errors: true }, async (dataDir) => {
  const arm = await startArmEmulator({
    subscriptionId,
    resourceGroup,
    locations: [
      { location: 'eastus', coresQuota: 64 },
      { location: 'westus2', coresQuota: 64 },
    ],
    dataDir,
    executor: 'process',
  });
  const env = arm.driverEnv('conformance');
  return {
    env,
    driver: () => createAzureDriver(loadConfig({ ...env, HB_LOCATION_REFRESH_MS: '1000' }).cloud),
    location: 'eastus',
    reclaim: (name) => arm.preempt(name),
    errors: {
      rateLimit: (times) => arm.inject({ action: 'vm.put', status: 429, code: 'TooManyRequests', times }),
      serverError: (times) => arm.inject({ action: 'vm.list', status: 500, code: 'InternalServerError', times }),
      // Azure reports a region out of capacity in the VM's creation operation.
      capacity: (location) => arm.inject({ action: 'vm.put', location, status: 200, code: 'AllocationFailed', times: 1 }),
      locations: ['eastus', 'westus2'],
    },
    close: () => arm.close(),
  };
});
