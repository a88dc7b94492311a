import { measureAffinity } from '../lib/affinity-check.ts';
import { httpGetOf } from '../lib/http-get.ts';
import { sumSamples } from '../lib/prometheus-text.ts';
import { scrapeMetrics } from '../lib/scrape-metrics.ts';
import { prometheusCannotReach, type StackPrometheus, startStackPrometheus } from '../lib/stack-prometheus.ts';
import { waitFor } from '../lib/wait-for.ts';
import { withoutCookieAffinity } from '../local/cookie-less.ts';
import { Checks, type MetricValue, type Scenario, skipped } from '../scenario.ts';
import type { Topology } from '../topology.ts';

/** engine.io's code 1, "Session ID unknown", as server/metrics.ts counts it (an operator's query would spell it so). */
const ENGINE_ERRORS = 'wsk_engine_connection_errors_total';
const SESSION_ID_UNKNOWN = { code: '1' };
/** prometheus/alerts.yml's alert on that counter, and how long after its (scaled) `for:` it may take: a scrape and an evaluation, with room. */
const ALERT = 'StickinessBroken';
const FIRE_SLACK_MS = 10_000;

/**
 * "Session ID unknown" counted by every replica, summed; or why the runner
 * cannot read them (a Docker topology whose replicas it cannot reach). On
 * the local topology a failed scrape is a failure, never a skip.
 */
async function sessionIdUnknownTotal(topology: Topology): Promise<number | string> {
  try {
    const perReplica = await Promise.all(
      topology.endpoints().replicas.map(async (r) => sumSamples(await scrapeMetrics(`${r.url}/metrics`, {}, httpGetOf(topology)), ENGINE_ERRORS, SESSION_ID_UNKNOWN)),
    );
    return perReplica.reduce((sum, n) => sum + n, 0);
  } catch (error) {
    if (topology.kind === 'local') throw error;
    return `cannot scrape the replicas from the runner (${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * The negative control: the affinity check, unchanged, through an HAProxy
 * whose config is haproxy/haproxy.cfg minus its cookie lines. If this does not
 * report "Session ID unknown", the affinity scenario could not fail either.
 */
export const noCookieControl: Scenario = {
  name: 'no-cookie-control',
  proves:
    'the affinity check can fail: the same check through HAProxy without the cookie sees "Session ID unknown", the replicas count it, and Prometheus with alerts.yml raises StickinessBroken',
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
    // A real Prometheus with the alert rules watches the replicas meanwhile,
    // where this machine can reach them (it is not part of the control itself).
    const unreachable = await prometheusCannotReach(topology);
    const stack: StackPrometheus | undefined = unreachable ? undefined : await startStackPrometheus(topology, 'no-cookie');
    await using _prometheus = stack?.prometheus;
    const before = await sessionIdUnknownTotal(topology);
    const startedAt = Date.now();
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
    // The replicas must see it too: each 400 the raw sessions got is one
    // code-1 refusal on some replica (the socket.io clients' add more), so
    // an operator's StickinessBroken alert would fire on this proxy.
    const after = typeof before === 'number' ? await sessionIdUnknownTotal(topology) : before;
    let counted: MetricValue;
    if (typeof before === 'number' && typeof after === 'number') {
      counted = after - before;
      check.expect(
        counted >= counts.rawSessionUnknown && counted > 0,
        `the replicas' ${ENGINE_ERRORS}{code="1"} rose by ${counted}, below the ${counts.rawSessionUnknown} "Session ID unknown" answers the raw sessions got`,
      );
    } else {
      counted = `skipped: ${typeof after === 'string' ? after : before}`;
    }
    let alert: MetricValue = `skipped: ${unreachable}`;
    if (stack) {
      const forMs = stack.rules.forMs.get(ALERT);
      if (forMs === undefined) throw new Error(`prometheus/alerts.yml has no ${ALERT}`);
      const firing = await waitFor(
        async () => (await stack.prometheus.alerts()).some((a) => a.name === ALERT && a.state === 'firing'),
        { what: `${ALERT} to fire within its for: (${forMs} ms after scaling) + ${FIRE_SLACK_MS} ms`, timeoutMs: forMs + FIRE_SLACK_MS, intervalMs: 250 },
      ).catch((error: unknown) => {
        check.expect(false, error instanceof Error ? error.message : String(error));
        return false;
      });
      if (firing) {
        alert = Date.now() - startedAt;
        check.expect(alert >= forMs, `${ALERT} fired ${alert} ms after the first request, before its for: of ${forMs} ms`);
      }
    }
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        replicasCountedSessionIdUnknown: counted,
        stickinessAlertFiredAfterMs: alert,
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
