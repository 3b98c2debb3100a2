/** The conformance suite on the Compute Engine driver, against the GCE emulator. */
import { loadConfig } from '../../config';
import { createGcpDriver } from '../../activities/cloud/gcp';
import { startGceEmulator } from '../support/emulators/gce';
import { conformance } from './cloud-conformance';

conformance('gcp', { errors: true }, async (dataDir) => {
  const gce = await startGceEmulator({
    project: 'hail-batch-test',
    zones: [
      { zone: 'us-central1-a', cpusQuota: 64 },
      { zone: 'us-central1-b', cpusQuota: 64 },
    ],
    dataDir,
    executor: 'process',
  });
  const env = {
    HB_CLOUD: 'gcp',
    HB_GCP_PROJECT: 'hail-batch-test',
    HB_GCP_ZONES: 'us-central1-a,us-central1-b',
    HB_GCP_API_ENDPOINT: gce.url,
    HB_DEPLOYMENT: 'conformance',
  };
  return {
    env,
    driver: () => createGcpDriver(loadConfig({ ...env, HB_LOCATION_REFRESH_MS: '1000' }).cloud),
    location: 'us-central1-a',
    reclaim: (name) => gce.preempt(name),
    errors: {
      rateLimit: (times) => gce.inject({ action: 'insert', status: 429, code: 'RATE_LIMIT_EXCEEDED', times }),
      serverError: (times) => gce.inject({ action: 'list', status: 503, code: 'backendError', times }),
      // GCE reports a zone out of capacity in the insert's operation.
      capacity: (zone) => gce.inject({ action: 'insert', location: zone, status: 200, code: 'ZONE_RESOURCE_POOL_EXHAUSTED', times: 1 }),
      locations: ['us-central1-a', 'us-central1-b'],
    },
    close: () => gce.close(),
  };
});
