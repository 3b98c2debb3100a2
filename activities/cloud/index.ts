/**
 * The cloud driver HB_CLOUD names. The cloud SDKs are loaded only for the cloud in use: they
 * take seconds to import, and every driver process (and every test that starts one) would
 * pay for both clouds otherwise.
 */
import type { Config } from '../../config';
import type { CloudDriver } from './driver';
import { createLocalDriver } from './local';

export async function createCloudDriver(config: Config, apiUrl: string = config.api.url): Promise<CloudDriver> {
  switch (config.cloud.kind) {
    case 'gcp':
      return (await import('./gcp')).createGcpDriver(config.cloud);
    case 'azure':
      return (await import('./azure')).createAzureDriver(config.cloud);
    default:
      return createLocalDriver(config, apiUrl);
  }
}
