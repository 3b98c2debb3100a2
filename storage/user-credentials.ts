/**
 * Each user's own cloud identity, used to copy that user's gs:// and Azure Blob files, so a
 * job reaches exactly what its user's identity may reach in the cloud's IAM (Hail gives every
 * user a service account for the same reason). The operator keeps them as files, one
 * directory per user, as a Kubernetes secret would be mounted:
 *
 *   <HB_USER_CREDENTIALS_DIR>/<username>/gcp-key.json   a service account key (JSON)
 *   <HB_USER_CREDENTIALS_DIR>/<username>/azure.json     {"type":"shared_key",account,key} or
 *                                                        {"type":"client_secret",tenant_id,client_id,client_secret}
 *
 * The driver reads them when it dispatches a job that names a cloud URL and sends them to the
 * agent with the job; the agent copies with them itself and never hands them to a container.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { FileTransfer } from './confine';
import { cloudOf, type CloudStorageKind } from './cloud-urls';

export const GcpKeySchema = z.looseObject({
  type: z.literal('service_account'),
  client_email: z.string().email(),
  private_key: z.string().startsWith('-----BEGIN'),
  private_key_id: z.string().min(1),
  project_id: z.string().optional(),
});

export const AzureCredentialSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('shared_key'), account: z.string().regex(/^[a-z0-9]{3,24}$/), key: z.string().min(1) }),
  z.object({ type: z.literal('client_secret'), tenant_id: z.string().min(1), client_id: z.string().min(1), client_secret: z.string().min(1) }),
]);

export const CloudCredentialsSchema = z.object({ gcp: GcpKeySchema.optional(), azure: AzureCredentialSchema.optional() });

export type GcpKey = z.infer<typeof GcpKeySchema>;
export type AzureCredential = z.infer<typeof AzureCredentialSchema>;
export type CloudCredentials = z.infer<typeof CloudCredentialsSchema>;

const FILES: Record<CloudStorageKind, { file: string; schema: z.ZodType }> = {
  gcp: { file: 'gcp-key.json', schema: GcpKeySchema },
  azure: { file: 'azure.json', schema: AzureCredentialSchema },
};

/** The clouds whose objects a job's files name. */
export function cloudsNamed(spec: { input_files: readonly FileTransfer[]; output_files: readonly FileTransfer[] }): CloudStorageKind[] {
  const named = new Set<CloudStorageKind>();
  for (const f of spec.input_files) {
    const c = cloudOf(f.from);
    if (c) named.add(c);
  }
  for (const f of spec.output_files) {
    const c = cloudOf(f.to);
    if (c) named.add(c);
  }
  return [...named];
}

/** A username is used as one path segment only when it cannot be anything else. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/;

/**
 * The user's credentials for `clouds`. A missing file means the user has no identity in that
 * cloud (the agent then refuses the job's cloud files, naming the cloud); a malformed one is
 * reported through `onProblem` and treated the same, so one bad file stops only its user.
 */
export async function readUserCredentials(
  dir: string,
  username: string,
  clouds: readonly CloudStorageKind[],
  onProblem: (message: string) => void,
): Promise<CloudCredentials> {
  const out: CloudCredentials = {};
  if (!SAFE_SEGMENT.test(username) || username.includes('..')) return out;
  for (const cloud of clouds) {
    const { file, schema } = FILES[cloud];
    const at = path.join(dir, username, file);
    let text: string;
    try {
      text = await readFile(at, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onProblem(`${at}: ${(err as Error).message}`);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = schema.parse(JSON.parse(text));
    } catch (err) {
      // The message names the file, never its content: it holds a secret.
      onProblem(`${at}: not a valid ${cloud} credential (${err instanceof z.ZodError ? err.issues.map((i) => i.path.join('.') || i.message).join(', ') : 'not JSON'})`);
      continue;
    }
    if (cloud === 'gcp') out.gcp = parsed as GcpKey;
    else out.azure = parsed as AzureCredential;
  }
  return out;
}
