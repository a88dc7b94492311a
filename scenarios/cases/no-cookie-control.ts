import { measureAffinity } from '../lib/affinity-check.ts';
import { withoutCookieAffinity } from '../local/cookie-less.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

/**
 * The negative control: the affinity check, unchanged, through an HAProxy
 * whose config is haproxy/haproxy.cfg minus its cookie lines. If this does not
 * report "Session ID unknown", the affinity scenario could not fail either.
 */
export const noCookieControl: Scenario = {
  name: 'no-cookie-control',
  proves: 'the affinity check can fail: the same check through HAProxy without the cookie sees "Session ID unknown"',
  async run({ topology, clients }) {
    if (topology.options.proxy !== 'haproxy') return skipped('needs --proxy haproxy');
    if (!topology.startHaproxyVariant) {
      return skipped(
        `the ${topology.kind} driver cannot run a second HAProxy beside the stack's; the control is a property of the check and of haproxy.cfg, proven on the local and compose topologies`,
      );
    }
    if (topology.endpoints().replicas.length < 2) {
      return skipped('needs at least 2 replicas');
    }
    await using variant = await topology.startHaproxyVariant('no-cookie', withoutCookieAffinity);
    const counts = await measureAffinity(variant.url, {
      clients: Math.max(6, Math.floor(clients / 3)),
      rounds: 3,
      gapMs: 100,
      rawSessions: 6,
      rawRounds: 6,
      keepCookie: true,
      connectTimeoutMs: 4000,
    });
    const broken =
      counts.rawSessionUnknown + counts.transportErrors + counts.replicaMismatches + counts.connectFailures;
    const check = new Checks();
    check.expect(counts.rawSessionUnknown > 0, 'raw polling without affinity saw no "Session ID unknown": the check is blind');
    check.expect(counts.rawCookiesSet === 0, `the cookie-less proxy still set ${counts.rawCookiesSet} cookies`);
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        sessionIdUnknown: counts.rawSessionUnknown,
        rawRequests: counts.rawRequests,
        clientTransportErrors: counts.transportErrors,
        clientConnectFailures: counts.connectFailures,
        mismatches: counts.replicaMismatches,
        breakages: broken,
      },
    };
  },
};
