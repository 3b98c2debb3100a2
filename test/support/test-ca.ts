/**
 * A certificate authority made for one test run (openssl), and a server certificate it signs
 * for the given host names (and IP addresses), so that a client that only speaks HTTPS to a cloud's real host
 * name can talk to an emulator: the client trusts the CA (SSL_CERT_FILE), nothing else does.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type TestCa = { caPath: string; key: string; cert: string };

export function makeTestCa(dir: string, hostNames: readonly string[]): TestCa {
  mkdirSync(dir, { recursive: true });
  const at = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=hail-batch test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', `/CN=${hostNames[0]}`);
  writeFileSync(at('san.ext'), `subjectAltName=${hostNames.map((h) => (/^[0-9.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',')}\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('san.ext'));
  return { caPath: at('ca.pem'), key: readFileSync(at('server.key'), 'utf8'), cert: readFileSync(at('server.pem'), 'utf8') };
}
