/**
 * The dev user of local mode: a user, a token and a billing project it belongs to, created once
 * and remembered in the data directory so every restart hands out the same credentials.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/client';
import { addProjectMember, addToken, ensureBillingProject, ensureUser } from '../db/queries/users';
import { newToken } from '../db/queries/tokens';

/** `pid` is the service that serves `url`: the admin command uses the URL only while that process holds the data directory. */
export type DevCredentials = { url: string; token: string; billing_project: string; temporal_ui: string; user: string; pid: number };

export const DEV_USER = 'dev';
export const DEV_BILLING_PROJECT = 'dev';

export async function ensureDevUser(db: Db, dataDir: string): Promise<{ user: string; token: string; billingProject: string }> {
  const file = credentialsPath(dataDir);
  let token = newToken();
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
    if (typeof saved.token === 'string') token = saved.token;
  }
  await ensureUser(db, DEV_USER, true);
  await addToken(db, DEV_USER, token);
  await ensureBillingProject(db, DEV_BILLING_PROJECT);
  await addProjectMember(db, DEV_BILLING_PROJECT, DEV_USER);
  return { user: DEV_USER, token, billingProject: DEV_BILLING_PROJECT };
}

export function credentialsPath(dataDir: string): string {
  return path.join(dataDir, 'dev-credentials.json');
}

export function writeCredentials(dataDir: string, creds: DevCredentials): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(credentialsPath(dataDir), JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
}
