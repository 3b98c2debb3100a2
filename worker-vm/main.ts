/** The worker-VM agent process: `cli/main.ts agent` calls runAgent(). */
import { loadConfig } from '../config/index';
import { startAgent } from './agent';

export async function runAgent(): Promise<void> {
  const agent = await startAgent(loadConfig());
  const shutdown = () => {
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`agent ${agent.name}: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
