/**
 * The part of Microsoft Entra ID (Azure AD) that a service principal's sign-in uses: the
 * tenant's OpenID configuration (which MSAL reads before asking for a token) and the v2.0
 * token endpoint's client-credentials grant, as `ClientSecretCredential` calls them in
 * @azure/identity (Node, through MSAL) and in Python's azure.identity.aio (hailtop). Served
 * over HTTPS only, like the real one, with a certificate of the test's own CA.
 *
 * Azurite's OAuth mode ("basic") checks a token's lifetime, issuer and audience but has no
 * role assignments. The emulator stands in for them: a service principal is granted storage
 * accounts, and its tokens name the account as their audience
 * (`https://<account>.blob.core.windows.net`, an audience Azure Storage accepts), so Azurite
 * refuses the token for any other account. A principal with no grant gets no token.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export type ServicePrincipal = { tenant: string; appId: string; password: string };

type Principal = ServicePrincipal & { accounts: string[] };

export type EntraEmulator = {
  /** e.g. https://127.44.0.2: what HB_AZURE_AUTHORITY_HOST (or AZURE_AUTHORITY_HOST) names. */
  authorityHost: string;
  /** A new service principal of `tenant`, given read and write on `accounts`' blobs. */
  createServicePrincipal(name: string, accounts: string[], tenant?: string): ServicePrincipal;
  /** The tokens issued, in order: to which app, and which client library asked (its User-Agent and x-client-sku). */
  readonly issued: { appId: string; client: string }[];
  stop(): Promise<void>;
};

const b64url = (v: Buffer | string) => Buffer.from(v).toString('base64url');

export async function startEntraEmulator(opts: { key: string; cert: string; host: string; port: number }): Promise<EntraEmulator> {
  const principals = new Map<string, Principal>();
  const issued: { appId: string; client: string }[] = [];
  const signingKey = randomBytes(32);
  /** Set once listening (the port may be chosen by the system). */
  let base = '';

  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const aadError = (res: import('node:http').ServerResponse, status: number, error: string, description: string) =>
    json(res, status, { error, error_description: description, error_codes: [status === 401 ? 7000215 : 900144], timestamp: new Date().toISOString() });

  const token = (p: Principal): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const claims = b64url(
      JSON.stringify({
        aud: `https://${p.accounts[0]}.blob.core.windows.net`,
        iss: `https://sts.windows.net/${p.tenant}/`,
        iat: now,
        nbf: now - 60,
        exp: now + 3600,
        appid: p.appId,
        oid: p.appId,
        sub: p.appId,
        tid: p.tenant,
        ver: '1.0',
      }),
    );
    const sig = createHmac('sha256', signingKey).update(`${header}.${claims}`).digest();
    return `${header}.${claims}.${b64url(sig)}`;
  };

  const server = https.createServer({ key: opts.key, cert: opts.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', base);
    const parts = url.pathname.split('/').filter(Boolean);
    const tenant = parts[0] ?? '';
    if (req.method === 'GET' && parts.length === 4 && parts[1] === 'v2.0' && parts[2] === '.well-known' && parts[3] === 'openid-configuration') {
      return json(res, 200, {
        issuer: `${base}/${tenant}/v2.0`,
        token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
      });
    }
    if (req.method === 'POST' && parts.length === 4 && parts[1] === 'oauth2' && parts[2] === 'v2.0' && parts[3] === 'token') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        body += d;
        if (body.length > 64 * 1024) req.destroy();
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'client_credentials') return aadError(res, 400, 'unsupported_grant_type', 'AADSTS70003: only client_credentials is emulated');
        const p = principals.get(form.get('client_id') ?? '');
        if (!p || p.tenant !== tenant) return aadError(res, 400, 'unauthorized_client', `AADSTS700016: application ${form.get('client_id')} was not found in tenant ${tenant}`);
        if (form.get('client_secret') !== p.password) return aadError(res, 401, 'invalid_client', 'AADSTS7000215: invalid client secret provided');
        const scope = form.get('scope') ?? '';
        if (!/(^|\s)https:\/\/(storage\.azure\.com|[a-z0-9]+\.blob\.core\.windows\.net)\/\.default($|\s)/.test(scope)) {
          return aadError(res, 400, 'invalid_scope', `AADSTS70011: scope ${scope} is not emulated (storage only)`);
        }
        if (p.accounts.length === 0) return aadError(res, 400, 'invalid_grant', `AADSTS50105: ${p.appId} has no role on any storage account`);
        issued.push({ appId: p.appId, client: `${req.headers['user-agent'] ?? ''} ${req.headers['x-client-sku'] ?? ''}`.trim() });
        json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token(p) });
      });
      return;
    }
    aadError(res, 404, 'not_found', `AADSTS90002: ${req.method} ${url.pathname} is not emulated`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `https://${opts.host}${port === 443 ? '' : `:${port}`}`;
  return {
    authorityHost: base,
    issued,
    createServicePrincipal(name, accounts, tenant = randomUUID()) {
      const p: Principal = { tenant, appId: randomUUID(), password: `${name}-${randomBytes(18).toString('base64url')}`, accounts: [...accounts] };
      principals.set(p.appId, p);
      return { tenant: p.tenant, appId: p.appId, password: p.password };
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
