import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { getText } from '../../client/tls-trust.ts';
import { openClient } from '../../client/connect.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

const ENGINE = '/socket.io/?EIO=4&transport=polling';

/** What a client trusting Node's own roots (not the run's CA) gets: the TLS error code, or "accepted". */
function withDefaultRoots(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve('accepted');
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

/** The proxy's certificate as a client trusting only `ca` sees it. */
function peerCertificate(url: string, ca: string): Promise<{ authorized: boolean; error: string; issuer: string; serial: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca, servername: hostname === '127.0.0.1' ? undefined : hostname, rejectUnauthorized: false });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no TLS handshake with ${url} within 5000 ms`)));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      resolve({
        authorized: socket.authorized,
        error: socket.authorizationError ? String(socket.authorizationError) : '',
        issuer: String(cert.issuer?.CN ?? ''),
        serial: cert.serialNumber ?? '',
      });
      socket.end();
    });
    socket.once('error', reject);
  });
}

export const tls: Scenario = {
  name: 'tls',
  proves:
    'under --tls the proxy serves the run CA\'s certificate (a client with Node\'s own roots is refused), plain HTTP answers only 308 to https, wss:// and polling connect, the affinity cookie is Secure (HAProxy)',
  async run({ topology }) {
    const { proxyUrl, plainProxyUrl, tlsCaPem } = topology.endpoints();
    if (!tlsCaPem || !plainProxyUrl) return skipped('the proxy speaks plain HTTP here (run with --tls)');
    const check = new Checks();

    const peer = await peerCertificate(proxyUrl, tlsCaPem);
    check.expect(peer.authorized, `the proxy's certificate does not verify against the run's CA: ${peer.error}`);
    check.expect(peer.issuer.startsWith('wsk throwaway CA'), `certificate issued by "${peer.issuer}", not the run's CA`);
    const untrusted = await withDefaultRoots(`${proxyUrl}${ENGINE}`);
    check.expect(untrusted !== 'accepted', 'a client trusting only Node\'s roots accepted the proxy\'s certificate');

    const redirects: string[] = [];
    for (const method of ['GET', 'POST'] as const) {
      const answer = await getText(`${plainProxyUrl}${ENGINE}`, { method });
      const reply = { status: answer.status, location: String(answer.headers.location ?? ''), setCookie: (answer.headers['set-cookie'] ?? []).length };
      redirects.push(`${method} ${reply.status}`);
      check.equal(reply.status, 308, `plain-HTTP ${method} ${ENGINE} (status)`);
      check.equal(reply.location, `${proxyUrl}${ENGINE}`, `plain-HTTP ${method} redirect target`);
      check.equal(reply.setCookie, 0, `plain-HTTP ${method}: Set-Cookie headers on the redirect`);
    }

    const handshake = await getText(`${proxyUrl}${ENGINE}`);
    check.equal(handshake.status, 200, 'https polling handshake (status)');
    const cookies = handshake.headers['set-cookie'] ?? [];
    if (topology.options.proxy === 'haproxy') {
      const affinity = cookies.find((line) => line.startsWith('WSKSRV='));
      check.expect(affinity !== undefined, `no WSKSRV cookie on the https handshake (Set-Cookie: ${cookies.join(' | ') || 'none'})`);
      if (affinity) {
        const attributes = affinity.split(';').slice(1).map((a) => a.trim().toLowerCase());
        check.expect(attributes.includes('secure'), `WSKSRV cookie without Secure: ${affinity}`);
        check.expect(attributes.includes('httponly'), `WSKSRV cookie without HttpOnly: ${affinity}`);
      }
    }

    const transports: string[] = [];
    for (const transport of ['websocket', 'polling'] as const) {
      const { socket, welcome } = await openClient(proxyUrl, { transports: [transport], reconnection: false }, 10_000);
      transports.push(`${transport}→${welcome.replica}`);
      socket.disconnect();
    }
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        certificateVerified: peer.authorized,
        issuer: peer.issuer,
        defaultRootsClient: untrusted,
        redirects: redirects.join(', '),
        connected: transports.join(' '),
      },
    };
  },
};
