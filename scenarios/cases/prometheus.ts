import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { prometheusCannotReach, queryScalar as scalar, type StackPrometheus, scrapedSince, startStackPrometheus } from '../lib/stack-prometheus.ts';
import { waitFor } from '../lib/wait-for.ts';
import { Checks, type MetricValue, type Scenario, skipped } from '../scenario.ts';
import { receivedTotal } from './observe.ts';

/** The alert a killed replica must raise, and how long after its `for:` it may take: HAProxy's mark-down (≤ 1.25 s, or DNS dropping it) + a scrape + an evaluation, with room. */
const KILL_ALERT = 'ReplicasMissing';
const FIRE_SLACK_MS = 10_000;
const PER_SENDER = 3;

/** The job names prometheus/alerts.yml and docs/operations.md use. */
const REPLICAS_JOB = 'job="wsk-replicas"';

export const prometheusScenario: Scenario = {
  name: 'prometheus',
  proves:
    "Debian's Prometheus scraping the replicas and HAProxy's exporter agrees with the runner's counts; with prometheus/alerts.yml loaded, a killed replica raises ReplicasMissing within its for: window",
  async run({ topology, clients: count, log }) {
    const endpoints = topology.endpoints();
    const why = await prometheusCannotReach(topology);
    if (why) return skipped(why);
    const check = new Checks();
    let stack: StackPrometheus;
    try {
      stack = await startStackPrometheus(topology, 'scenario');
    } catch (error) {
      return { ok: false, failures: [error instanceof Error ? error.message : String(error)], metrics: {} };
    }
    const { rules, replicaTargets, allTargets, noExporter } = stack;
    await using prometheus = stack.prometheus;
    const metrics: Record<string, MetricValue> = { prometheus: stack.version };
    log(`prometheus on ${prometheus.url}, scraping ${allTargets.join(' ')}`);
    await scrapedSince(prometheus, 0, allTargets);
    const loaded = await prometheus.ruleNames();
    check.equal(loaded.sort().join(' '), [...rules.forMs.keys()].sort().join(' '), 'alert rules Prometheus loaded from prometheus/alerts.yml');
    metrics.rules = loaded.length;

    // --- totals: Prometheus against the runner --------------------------------
    let clients: PooledClient[] = [];
    try {
      clients = await openClients(endpoints.proxyUrl, count);
      const groups = byReplica(clients);
      // Earlier scenarios' clients may still be closing: start from a moment
      // Prometheus itself sees exactly ours, all upgraded.
      await waitFor(
        async () => {
          await scrapedSince(prometheus, Date.now(), replicaTargets);
          const connected = await scalar(prometheus, `sum(wsk_connected_clients{${REPLICAS_JOB}})`);
          const upgraded = await scalar(prometheus, `sum(wsk_connected_clients{${REPLICAS_JOB},transport="websocket"})`);
          if (connected !== clients.length || upgraded !== connected) throw new Error(`Prometheus sees ${connected} clients, ${upgraded} on websocket`);
          return true;
        },
        { what: `Prometheus's wsk_connected_clients to add up to our ${clients.length} clients, all on websocket`, timeoutMs: 20_000, intervalMs: 200 },
      );
      const deliveriesExpr = `sum by (replica) (wsk_broadcast_deliveries_total{${REPLICAS_JOB},event="broadcast"})`;
      const receivedExpr = `sum(wsk_events_received_total{${REPLICAS_JOB},event="broadcast"})`;
      const perReplica = async () => new Map((await prometheus.query(deliveriesExpr)).map((s) => [s.metric.replica ?? '', s.value]));
      const before = { deliveries: await perReplica(), received: await scalar(prometheus, receivedExpr) };

      const senders = [...groups.values()].map((group) => group[0]!);
      const probes = await sendProbes(senders, PER_SENDER);
      const report = await collectDeliveries({ probes, recipients: clients });
      const counted = receivedTotal(clients);
      await scrapedSince(prometheus, Date.now(), replicaTargets);
      const after = { deliveries: await perReplica(), received: await scalar(prometheus, receivedExpr) };

      let total = 0;
      const spread: string[] = [];
      for (const [replica, group] of groups) {
        const got = (after.deliveries.get(replica) ?? 0) - (before.deliveries.get(replica) ?? 0);
        total += got;
        spread.push(`${replica}=${got}`);
        check.equal(got, group.length * counted.messages, `${replica}: Prometheus's deliveries (its ${group.length} clients × ${counted.messages} messages)`);
      }
      check.equal(report.lost, 0, 'lost deliveries');
      check.equal(report.duplicated, 0, 'duplicated deliveries');
      check.equal(total, counted.deliveries, "Prometheus's sum of wsk_broadcast_deliveries_total against the deliveries the clients counted");
      check.equal(after.received - before.received, counted.messages, "Prometheus's broadcast events received against the messages sent");
      Object.assign(metrics, {
        clients: clients.length,
        messages: counted.messages,
        runnerCounted: counted.deliveries,
        prometheusCounted: total,
        perReplica: spread.join(' '),
      });

      if (noExporter !== undefined) {
        metrics.haproxy = `skipped: ${noExporter}`;
      } else {
        const sessions = await scalar(prometheus, 'sum(haproxy_backend_current_sessions{job="wsk-haproxy",proxy="replicas"})');
        metrics.proxyBackendSessions = sessions;
        check.expect(sessions >= clients.length, `Prometheus's haproxy_backend_current_sessions (${sessions}) below our ${clients.length} clients`);
      }
    } finally {
      closeClients(clients);
    }

    // --- a killed replica raises the alert -------------------------------------
    if (noExporter !== undefined) {
      metrics.alert = `skipped: ${KILL_ALERT} reads HAProxy's exporter (${noExporter})`;
      return { ok: check.ok, failures: check.failures, metrics };
    }
    const forMs = rules.forMs.get(KILL_ALERT);
    if (forMs === undefined) throw new Error(`prometheus/alerts.yml has no ${KILL_ALERT}`);
    const active = async (name: string) => (await prometheus.alerts()).filter((a) => a.name === name);
    check.equal((await active(KILL_ALERT)).length, 0, `${KILL_ALERT} active before any replica was killed`);

    const victim = endpoints.replicas.at(-1)!;
    const killedAt = Date.now();
    await topology.kill(victim.id, 'SIGKILL');
    log(`killed ${victim.id}; waiting for ${KILL_ALERT} (for: ${forMs} ms after scaling)`);
    try {
      let sawPending = false;
      const firing = await waitFor(
        async () => {
          const alerts = await active(KILL_ALERT);
          if (alerts.some((a) => a.state === 'pending')) sawPending = true;
          return alerts.find((a) => a.state === 'firing');
        },
        { what: `${KILL_ALERT} to fire within its for: (${forMs} ms) + ${FIRE_SLACK_MS} ms of the kill`, timeoutMs: forMs + FIRE_SLACK_MS, intervalMs: 250 },
      );
      const firedAfterMs = Date.now() - killedAt;
      metrics.alertFiredAfterMs = firedAfterMs;
      metrics.alertForMs = forMs;
      check.expect(sawPending, `${KILL_ALERT} was never seen pending before firing`);
      // Prometheus fires only after the expression held for the whole window:
      // earlier would mean the alert was not this kill's.
      check.expect(firedAfterMs >= forMs, `${KILL_ALERT} fired ${firedAfterMs} ms after the kill, before its for: of ${forMs} ms`);
      check.equal(firing.labels.proxy ?? '', 'replicas', `${KILL_ALERT}'s proxy label`);
      check.equal(await scalar(prometheus, `up{${REPLICAS_JOB},instance="${new URL(victim.url).host}"}`), 0, `Prometheus's up for the killed ${victim.id}`);
      check.equal((await active('NoReplicas')).length, 0, 'NoReplicas active with replicas left');
    } finally {
      await topology.start(victim.id);
    }
    const restartedAt = Date.now();
    await waitFor(async () => (await active(KILL_ALERT)).length === 0, {
      what: `${KILL_ALERT} to clear once ${victim.id} is back`,
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    metrics.alertClearedAfterMs = Date.now() - restartedAt;
    return { ok: check.ok, failures: check.failures, metrics };
  },
};
