/**
 * `admin` sub-commands: user and token management straight on the database named by the
 * configuration (DATABASE_URL, else the PGlite in HB_DATA_DIR), for bootstrapping a service
 * before any admin token exists. The same queries back the admin API routes.
 */
import { loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { createUser, issueToken, listUsers, revokeTokens } from '../db/queries/accounts';
import { parseUsername } from '../domain/accounts';

export const ADMIN_USAGE = [
  'usage: cli/main.ts admin <command>',
  '  create-user NAME [--admin]   create a user (repeating it is harmless)',
  '  create-token NAME            print a new token for the user (shown once)',
  '  revoke-tokens NAME           revoke every token of the user',
  '  list-users                   one line per user: name, admin, number of tokens',
].join('\n');

export class UsageError extends Error {}

/** Runs one admin command and returns what to print. */
export async function runAdmin(args: readonly string[]): Promise<string> {
  const [cmd, ...rest] = args;
  const flags = new Set(rest.filter((a) => a.startsWith('--')));
  const names = rest.filter((a) => !a.startsWith('--'));
  const unknownFlag = [...flags].find((f) => f !== '--admin' || cmd !== 'create-user');
  if (unknownFlag) throw new UsageError(`unknown option ${unknownFlag}\n${ADMIN_USAGE}`);
  const needsName = cmd === 'create-user' || cmd === 'create-token' || cmd === 'revoke-tokens';
  if (needsName && names.length !== 1) throw new UsageError(`${cmd} takes one user name\n${ADMIN_USAGE}`);
  if (cmd === 'list-users' && names.length !== 0) throw new UsageError(`list-users takes no arguments\n${ADMIN_USAGE}`);
  if (!needsName && cmd !== 'list-users') throw new UsageError(ADMIN_USAGE);

  const database = await openDatabase(loadConfig().database, { max: 1 });
  try {
    const db = database.db;
    const name = names[0] ?? '';
    switch (cmd) {
      case 'create-user': {
        const { user, created } = await createUser(db, parseUsername(name), flags.has('--admin'));
        return `${created ? 'created' : 'exists'} ${user.username}${user.isAdmin ? ' (admin)' : ''}`;
      }
      case 'create-token':
        return await issueToken(db, name);
      case 'revoke-tokens':
        return `revoked ${await revokeTokens(db, name)} token(s) of ${name}`;
      default: {
        const rows = await listUsers(db);
        return rows.map((u) => `${u.username}\t${u.isAdmin ? 'admin' : 'user'}\t${u.nTokens} token(s)`).join('\n');
      }
    }
  } finally {
    await database.close();
  }
}
