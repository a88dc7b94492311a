import { measureAffinity } from '../lib/affinity-check.ts';
import { Checks, type Scenario, spreadUnavailable } from '../scenario.ts';

export const affinity: Scenario = {
  name: 'affinity',
  proves:
    'every request of a session reaches the replica that created it (default and polling-only clients, raw HTTP polling with a cookie jar); every replica gets clients',
  async run({ topology, clients }) {
    const { proxyUrl, replicas } = topology.endpoints();
    const counts = await measureAffinity(proxyUrl, {
      clients,
      rounds: 5,
      gapMs: 150,
      rawSessions: Math.max(3, Math.min(12, Math.floor(clients / 5))),
      rawRounds: 8,
      keepCookie: true,
      connectTimeoutMs: 15_000,
    });
    const check = new Checks();
    check.equal(counts.connectFailures, 0, 'clients that could not connect');
    check.equal(counts.replicaMismatches, 0, 'whoami answered by another replica');
    check.equal(counts.whoamiFailures, 0, 'whoami without an answer');
    check.equal(counts.transportErrors, 0, 'transport errors (HTTP 400 Session ID unknown among them)');
    check.equal(counts.disconnects, 0, 'unexpected disconnects');
    check.equal(counts.rawSessionUnknown, 0, 'raw polling requests answered "Session ID unknown"');
    check.equal(counts.rawOtherErrors, 0, 'raw polling requests with another error');
    check.equal(counts.rawSplitSessions, 0, 'raw polling sessions served by more than one replica');
    // HAProxy keeps sessions by the cookie it inserts; Nginx by the source address (ip_hash).
    if (topology.options.proxy === 'haproxy') {
      check.equal(counts.rawCookiesSet, counts.rawSessions, 'raw handshakes that got an affinity cookie');
      // Under TLS the cookie must be Secure (never sent back over plain HTTP); without TLS it cannot be.
      const tls = proxyUrl.startsWith('https:');
      check.equal(counts.rawCookiesSecure, tls ? counts.rawSessions : 0, `raw handshakes whose cookie is Secure (TLS ${tls ? 'on' : 'off'})`);
    }
    const idle = replicas.filter((replica) => !counts.distribution[replica.id]).map((replica) => replica.id);
    // Where the proxy cannot see client addresses, ip_hash puts them all on
    // one replica: affinity still holds (checked above), spread cannot.
    const noSpread = spreadUnavailable(topology);
    if (!noSpread) check.expect(idle.length === 0, `replicas that received no client: ${idle.join(', ')}`);
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        clients: counts.clients,
        pollingOnly: counts.pollingOnlyClients,
        replicas: replicas.length,
        ...(noSpread ? { spreadNotChecked: noSpread } : {}),
        replicasWithClients: Object.keys(counts.distribution).length,
        whoamiChecks: counts.whoamiChecks,
        mismatches: counts.replicaMismatches,
        transportErrors: counts.transportErrors,
        disconnects: counts.disconnects,
        rawRequests: counts.rawRequests,
        sessionIdUnknown: counts.rawSessionUnknown,
        ...(topology.options.proxy === 'haproxy' ? { secureCookies: counts.rawCookiesSecure } : {}),
        spread: Object.values(counts.distribution).join('/'),
      },
    };
  },
};
