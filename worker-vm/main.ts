/** The worker-VM agent process: `cli/main.ts agent` calls runAgent(). */
import { loadConfig } from '../config/index';
import { startAgent } from './agent';

export async function runAgent(): Promise<void> {
  const config = loadConfig();
  // The last line of defence: whatever a job or the engine makes go wrong is that job's
  // problem; the agent keeps serving the others (the runner turns known faults into job Errors).
  const report = (kind: string) => (err: unknown) =>
    process.stderr.write(`${new Date().toISOString()} error [agent ${config.agent.name ?? ''}] ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.on('uncaughtException', report('uncaught exception'));
  process.on('unhandledRejection', report('unhandled rejection'));
  const agent = await startAgent(config);
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
