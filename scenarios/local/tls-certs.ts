import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Throwaway TLS material for one local run, made with openssl: a CA that
 * exists only in the run's directory and a server certificate it signs for
 * the loopback names the runner uses. Clients trust that CA and nothing else
 * (client/tls-trust.ts), so a passing --tls run proves the proxy served the
 * certificate it was given, with a valid chain and SAN.
 */

export interface TlsMaterial {
  /** The CA certificate (PEM) clients trust. */
  caPem: string;
  caPath: string;
  /** Certificate + chain + private key in one PEM: what HAProxy's `crt` and Nginx's ssl_certificate{,_key} take. */
  serverPemPath: string;
  /** The server certificate's serial (hex, upper case), to tell two issues apart. */
  serial: string;
  /** Issue a new server certificate from the same CA into serverPemPath (atomically replaced): rotation. */
  reissue(): Promise<{ serial: string }>;
}

/** SANs the local runner connects to: the proxies bind 127.0.0.1. */
export const LOCAL_TLS_SANS = ['IP:127.0.0.1', 'DNS:localhost'] as const;
const SAN = /^(IP:\d{1,3}(\.\d{1,3}){3}|DNS:[A-Za-z0-9.-]+)$/;

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', [...args], { cwd, timeout: 20_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error('openssl not found on PATH (apt-get install -y openssl)'));
      reject(new Error(`openssl ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/** The extensions file of a server certificate for `sans` (pure). */
export function serverExtensions(sans: readonly string[]): string {
  const bad = sans.filter((san) => !SAN.test(san));
  if (sans.length === 0 || bad.length > 0) throw new Error(`SANs must be IP:a.b.c.d or DNS:name, got [${sans.join(', ')}]`);
  return [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${sans.join(', ')}`,
    '',
  ].join('\n');
}

/**
 * Make `<dir>/` hold ca.pem (+ its key) and server.pem. P-256 keys, valid
 * for two days: nothing here is meant to outlive the run.
 */
export async function makeTlsMaterial(dir: string, sans: readonly string[] = LOCAL_TLS_SANS): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=wsk throwaway CA ${randomBytes(4).toString('hex')}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  await writeFile(join(dir, 'server.ext'), serverExtensions(sans));
  const caPath = join(dir, 'ca.pem');
  const serverPemPath = join(dir, 'server.pem');
  let issued = 0;
  const issue = async (): Promise<{ serial: string }> => {
    const name = `server-${++issued}`;
    await openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=wsk local proxy'], dir);
    await openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-days', '2', '-extfile', 'server.ext', '-out', `${name}.crt`],
      dir,
    );
    const [crt, key] = await Promise.all([readFile(join(dir, `${name}.crt`), 'utf8'), readFile(join(dir, `${name}.key`), 'utf8')]);
    // Rename over the old file: a proxy reloading mid-write never reads half a PEM.
    await writeFile(join(dir, `${name}.pem`), `${crt}${key}`, { mode: 0o600 });
    await rename(join(dir, `${name}.pem`), serverPemPath);
    return { serial: new X509Certificate(crt).serialNumber.toUpperCase() };
  };
  const first = await issue();
  return { caPem: await readFile(caPath, 'utf8'), caPath, serverPemPath, serial: first.serial, reissue: issue };
}
