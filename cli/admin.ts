/**
 * `admin` sub-commands: user and token management, for bootstrapping a service before any
 * admin token exists. The same queries back the admin API routes.
 *
 * With PostgreSQL (DATABASE_URL) it works on the database directly; many writers are fine.
 * The embedded PGlite of a data directory takes exactly one writer: while the local service
 * holds the directory, the command goes through that service's admin API (its URL, pid and
 * the admin dev user's token are in dev-credentials.json); otherwise it takes the directory's
 * lock itself for as long as it runs. It never opens a database another process has open.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config';
import { openDatabase } from '../db/client';
import { createUser, issueToken, listUsers, revokeTokens } from '../db/queries/accounts';
import { parseUsername } from '../domain/accounts';
import { credentialsPath, type DevCredentials } from './bootstrap';
import { DataDirBusy, dataDirHolder, lockDataDir } from './lifecycle';

export const ADMIN_USAGE = [
  'usage: cli/main.ts admin <command>',
  '  create-user NAME [--admin]   create a user (repeating it is harmless)',
  '  create-token NAME            print a new token for the user (shown once)',
  '  revoke-tokens NAME           revoke every token of the user',
  '  list-users                   one line per user: name, admin, number of tokens',
].join('\n');

/** A mistake in the command or its input: exit 2 with the message. */
export class UsageError extends Error {}
/** The command cannot be carried out safely now (e.g. the service is starting): exit 1 with the message. */
export class AdminRefused extends Error {}

type Command =
  | { cmd: 'create-user'; name: string; admin: boolean }
  | { cmd: 'create-token' | 'revoke-tokens'; name: string }
  | { cmd: 'list-users' };

function parseCommand(args: readonly string[]): Command {
  const [cmd, ...rest] = args;
  const flags = new Set(rest.filter((a) => a.startsWith('--')));
  const names = rest.filter((a) => !a.startsWith('--'));
  const unknownFlag = [...flags].find((f) => f !== '--admin' || cmd !== 'create-user');
  if (unknownFlag) throw new UsageError(`unknown option ${unknownFlag}\n${ADMIN_USAGE}`);
  const needsName = cmd === 'create-user' || cmd === 'create-token' || cmd === 'revoke-tokens';
  if (needsName && names.length !== 1) throw new UsageError(`${cmd} takes one user name\n${ADMIN_USAGE}`);
  if (cmd === 'list-users' && names.length !== 0) throw new UsageError(`list-users takes no arguments\n${ADMIN_USAGE}`);
  if (cmd === 'create-user') return { cmd, name: names[0]!, admin: flags.has('--admin') };
  if (cmd === 'create-token' || cmd === 'revoke-tokens') return { cmd, name: names[0]! };
  if (cmd === 'list-users') return { cmd };
  throw new UsageError(ADMIN_USAGE);
}

const listLine = (u: { username: string; isAdmin: boolean; nTokens: number }) => `${u.username}\t${u.isAdmin ? 'admin' : 'user'}\t${u.nTokens} token(s)`;
const createdLine = (username: string, isAdmin: boolean, created: boolean) => `${created ? 'created' : 'exists'} ${username}${isAdmin ? ' (admin)' : ''}`;

/** Runs one admin command and returns what to print. */
export async function runAdmin(args: readonly string[]): Promise<string> {
  const command = parseCommand(args);
  const config = loadConfig();
  if (config.database.kind === 'postgres') return onDatabase(config, command);
  const holder = dataDirHolder(config.dataDir);
  if (holder) return throughService(config, holder.pid, command);
  let unlock: () => void;
  try {
    unlock = lockDataDir(config.dataDir, 'the local service');
  } catch (e) {
    if (e instanceof DataDirBusy) throw new AdminRefused(`${e.message}; run the command again once it is up`);
    throw e;
  }
  try {
    return await onDatabase(config, command);
  } finally {
    unlock();
  }
}

async function onDatabase(config: Config, command: Command): Promise<string> {
  const database = await openDatabase(config.database, { max: 1 });
  try {
    const db = database.db;
    switch (command.cmd) {
      case 'create-user': {
        const { user, created } = await createUser(db, parseUsername(command.name), command.admin);
        return createdLine(user.username, user.isAdmin, created);
      }
      case 'create-token':
        return await issueToken(db, command.name);
      case 'revoke-tokens':
        return `revoked ${await revokeTokens(db, command.name)} token(s) of ${command.name}`;
      case 'list-users':
        return (await listUsers(db)).map(listLine).join('\n');
    }
  } finally {
    await database.close();
  }
}

/** The running local service does the work, as its admin dev user. */
async function throughService(config: Config, holderPid: number, command: Command): Promise<string> {
  const file = credentialsPath(config.dataDir);
  const creds = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>) : {};
  if (creds.pid !== holderPid || typeof creds.url !== 'string' || typeof creds.token !== 'string') {
    throw new AdminRefused(
      `the local service (pid ${holderPid}) is using ${config.dataDir} and is not serving yet; run the command again once it is up`,
    );
  }
  const call = async (method: string, route: string, body?: object): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${creds.url}/api/v1alpha${route}`, {
        method,
        headers: { authorization: `Bearer ${creds.token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new AdminRefused(`the local service (pid ${holderPid}) holds ${config.dataDir} but does not answer at ${creds.url} (${String(e)}); nothing was changed`);
    }
    const json = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403) {
      throw new UsageError(json.error?.message ?? `the service answered ${res.status}`);
    }
    if (!res.ok) throw new AdminRefused(`the local service answered ${res.status}: ${json.error?.message ?? ''}`);
    return json;
  };
  const user = (name: string) => `/users/${encodeURIComponent(name)}/tokens`;
  switch (command.cmd) {
    case 'create-user': {
      const r = (await call('POST', '/users', { username: command.name, is_admin: command.admin })) as { username: string; is_admin: boolean; created: boolean };
      return createdLine(r.username, r.is_admin, r.created);
    }
    case 'create-token':
      return ((await call('POST', user(command.name))) as { token: string }).token;
    case 'revoke-tokens':
      return `revoked ${((await call('DELETE', user(command.name))) as { revoked: number }).revoked} token(s) of ${command.name}`;
    case 'list-users': {
      const rows = (await call('GET', '/users')) as { username: string; is_admin: boolean; n_tokens: number }[];
      return rows.map((u) => listLine({ username: u.username, isAdmin: u.is_admin, nTokens: u.n_tokens })).join('\n');
    }
  }
}
