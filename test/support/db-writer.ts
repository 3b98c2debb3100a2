/**
 * A process that writes to a data directory's embedded database as fast as it can, the way
 * the local service does: it takes the directory's lock, opens PGlite (running migrations),
 * prints "ready", then creates users and tokens until it is killed. For kill -9 tests.
 */
import { loadConfig } from '../../config';
import { openDatabase } from '../../db/client';
import { createUser, issueToken } from '../../db/queries/accounts';
import { lockDataDir } from '../../cli/lifecycle';

async function main(): Promise<void> {
  const config = loadConfig();
  lockDataDir(config.dataDir, 'a writer');
  const database = await openDatabase(config.database);
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const name = `w${process.pid}x${i}`;
    await createUser(database.db, name, false);
    await issueToken(database.db, name);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
