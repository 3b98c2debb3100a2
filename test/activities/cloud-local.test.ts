/** The conformance suite on the local driver: agent processes on this machine. */
import { loadConfig } from '../../config';
import { createLocalDriver } from '../../activities/cloud/local';
import { conformance } from './cloud-conformance';

conformance('local', { errors: false }, async (dataDir) => {
  const config = () => loadConfig({ HB_DATA_DIR: dataDir, HB_EXECUTOR: 'process', HB_REGION: 'local' });
  return {
    env: { HB_CLOUD: 'local' },
    driver: () => createLocalDriver(config()),
    location: 'local',
    // The local cloud's reclaim is its SIGKILL of the agent.
    reclaim: (name) => createLocalDriver(config()).simulatePreemption(name),
    close: async () => {
      const d = createLocalDriver(config());
      for (const m of await d.list()) await d.delete(m.name);
    },
  };
});
