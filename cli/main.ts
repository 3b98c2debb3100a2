/** The one entry point: each subcommand starts one kind of process. */
import { runLocal } from './local';
import { runService } from './services';
import { runAgent } from '../worker-vm/main';
import { AdminRefused, runAdmin, UsageError } from './admin';
import { ClusterRefused, ClusterUsageError, runCluster } from './cluster';

const USAGE = 'usage: cli/main.ts <local|api|driver|agent|admin|cluster>';

async function main(cmd: string | undefined): Promise<void> {
  switch (cmd) {
    case 'local':
      return runLocal();
    case 'api':
    case 'driver':
      return runService(cmd);
    case 'agent':
      return runAgent();
    case 'admin':
      return runAdmin(process.argv.slice(3)).then(
        (out) => void (out && process.stdout.write(out + '\n')),
        (e: unknown) => {
          // Usage and input mistakes, and refusals, get their message alone; anything else its stack below.
          if (e instanceof AdminRefused) {
            process.stderr.write(e.message + '\n');
            process.exit(1);
          }
          if (!(e instanceof UsageError) && !(e instanceof Error && 'field' in e)) throw e;
          process.stderr.write(e.message + '\n');
          process.exit(2);
        },
      );
    case 'cluster':
      return runCluster(process.argv.slice(3)).then(
        (code) => process.exit(code),
        (e: unknown) => {
          if (!(e instanceof ClusterRefused) && !(e instanceof ClusterUsageError)) throw e;
          process.stderr.write(e.message + '\n');
          process.exit(e instanceof ClusterUsageError ? 2 : 1);
        },
      );
    default:
      process.stderr.write(USAGE + '\n');
      process.exit(2);
  }
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
