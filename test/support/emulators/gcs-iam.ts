/**
 * The part of Google's IAM the GCS emulator needs to keep tenants apart: service accounts
 * with RSA keys (handed out as the key JSON a real `gcloud iam service-accounts keys create`
 * writes), and per-bucket members. A request to a bucket with members must carry a bearer
 * token that is a JWT signed by a key of one of those members: the self-signed form Google
 * accepts for its APIs (google-auth-library's JWTAccess), checked for signature, issuer,
 * expiry and a storage scope, or an access token its token endpoint issued for such a JWT
 * (the grant hailtop's own client makes). A bucket without members stands for the deployment's own
 * bucket, reached with the VM's identity, which the emulator does not model.
 * State lives in `<dir>/iam.json`, so a restarted emulator keeps its accounts.
 */
import { createPublicKey, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type ServiceAccountKey = {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
  auth_uri: string;
};

type IamState = {
  /** key id → the account's e-mail and its public key (PEM). */
  keys: Record<string, { email: string; publicKey: string }>;
  /** bucket → e-mails that may read and write it. */
  members: Record<string, string[]>;
  /** Access tokens the token endpoint issued. */
  tokens: Record<string, { email: string; scope: string; expires: number }>;
};

type Claims = { iss?: string; sub?: string; exp?: number; scope?: string; aud?: string };

export class AuthError extends Error {
  constructor(readonly status: 401 | 403, message: string) {
    super(message);
  }
}

const STORAGE_SCOPES = [
  'https://www.googleapis.com/auth/devstorage.read_write',
  'https://www.googleapis.com/auth/devstorage.full_control',
  'https://www.googleapis.com/auth/cloud-platform',
];

export class GcsIam {
  private readonly file: string;
  private state: IamState;

  constructor(dir: string) {
    this.file = path.join(dir, 'iam.json');
    this.state = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as IamState) : { keys: {}, members: {}, tokens: {} };
  }

  /** A new service account and key; the private half exists only in what is returned. */
  createServiceAccount(name: string, project = 'test'): ServiceAccountKey {
    const email = `${name}@${project}.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyId = randomBytes(20).toString('hex');
    this.state.keys[keyId] = { email, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    this.save();
    return {
      type: 'service_account',
      project_id: project,
      private_key_id: keyId,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(BigInt(`0x${keyId.slice(0, 15)}`)),
      token_uri: 'https://oauth2.googleapis.com/token',
      // what `gcloud iam service-accounts keys create` also writes
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    };
  }

  /** Gives `email` read and write on `bucket` (roles/storage.objectAdmin). */
  grant(bucket: string, email: string): void {
    const members = (this.state.members[bucket] ??= []);
    if (!members.includes(email)) members.push(email);
    this.save();
  }

  /** Throws AuthError unless the request may use `bucket`; returns the caller's e-mail, if any. */
  authorize(authorization: string | undefined, bucket: string): string | null {
    const members = this.state.members[bucket];
    if (members === undefined) return null;
    const email = this.verify(authorization);
    if (!members.includes(email)) throw new AuthError(403, `${email} does not have storage.objects access to the Google Cloud Storage bucket ${bucket}.`);
    return email;
  }

  /**
   * The token endpoint's answer to a signed assertion (the JWT-bearer grant Google's client
   * libraries send): an opaque access token for the account, valid for an hour.
   */
  exchange(assertion: string): { access_token: string; expires_in: number; token_type: 'Bearer' } {
    const { email, claims } = this.verifyJwt(assertion);
    if (!/^https:\/\/(www\.googleapis\.com\/oauth2\/v4\/token|oauth2\.googleapis\.com\/token)$/.test(claims.aud ?? '')) {
      throw new AuthError(401, 'invalid_grant: bad audience');
    }
    const token = `ya29.emulated-${randomBytes(24).toString('hex')}`;
    this.state.tokens[token] = { email, scope: claims.scope ?? '', expires: Date.now() + 3600_000 };
    this.save();
    return { access_token: token, expires_in: 3600, token_type: 'Bearer' };
  }

  private verify(authorization: string | undefined): string {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (token === undefined) throw new AuthError(401, 'Anonymous caller does not have storage.objects access.');
    const issued = this.state.tokens[token];
    let email: string;
    let scope: string;
    let aud = '';
    if (issued !== undefined) {
      if (issued.expires < Date.now()) throw new AuthError(401, 'Invalid Credentials: token expired');
      ({ email, scope } = issued);
    } else {
      // A self-signed JWT used as the access token itself (JWTAccess): iss and sub the account.
      const { email: e, claims } = this.verifyJwt(token);
      if (claims.sub !== e) throw new AuthError(401, 'Invalid Credentials');
      email = e;
      scope = claims.scope ?? '';
      aud = claims.aud ?? '';
    }
    const forStorage = scope.split(' ').some((s) => STORAGE_SCOPES.includes(s)) || aud.startsWith('https://storage.googleapis.com');
    if (!forStorage) throw new AuthError(403, 'Request had insufficient authentication scopes.');
    return email;
  }

  /** Checks an RS256 JWT against the keys of the account it names (by kid, else all its keys). */
  private verifyJwt(token: string): { email: string; claims: Claims } {
    const [h, p, sig] = token.split('.');
    if (h === undefined || p === undefined || sig === undefined) throw new AuthError(401, 'Invalid Credentials');
    let header: { alg?: string; kid?: string };
    let claims: Claims;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString()) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Claims;
    } catch {
      throw new AuthError(401, 'Invalid Credentials');
    }
    if (header.alg !== 'RS256') throw new AuthError(401, 'Invalid Credentials');
    const candidates = header.kid !== undefined ? [this.state.keys[header.kid]] : Object.values(this.state.keys).filter((k) => k.email === claims.iss);
    const signed = candidates.some(
      (key) => key !== undefined && key.email === claims.iss && createVerify('RSA-SHA256').update(`${h}.${p}`).verify(createPublicKey(key.publicKey), Buffer.from(sig, 'base64url')),
    );
    if (!signed) throw new AuthError(401, 'Invalid Credentials');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) throw new AuthError(401, 'Invalid Credentials: token expired');
    return { email: claims.iss!, claims };
  }

  private save(): void {
    writeFileSync(this.file, JSON.stringify(this.state));
  }
}
