/** The one entry point: each subcommand starts one kind of process. */
import { runLocal } from './local';
import { runService } from './services';
import { runAgent } from '../worker-vm/main';

const USAGE = 'usage: cli/main.ts <local|api|driver|agent>';

async function main(cmd: string | undefined): Promise<void> {
  switch (cmd) {
    case 'local':
      return runLocal();
    case 'api':
    case 'driver':
      return runService(cmd);
    case 'agent':
      return runAgent();
    default:
      process.stderr.write(USAGE + '\n');
      process.exit(2);
  }
}

main(process.argv[2]).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
