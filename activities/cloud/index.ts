/** The cloud driver HB_CLOUD names. */
import type { Config } from '../../config';
import type { CloudDriver } from './driver';
import { createLocalDriver } from './local';
import { createGcpDriver } from './gcp';
import { createAzureDriver } from './azure';

export function createCloudDriver(config: Config, apiUrl: string = config.api.url): CloudDriver {
  switch (config.cloud.kind) {
    case 'gcp':
      return createGcpDriver(config.cloud);
    case 'azure':
      return createAzureDriver(config.cloud);
    default:
      return createLocalDriver(config, apiUrl);
  }
}
