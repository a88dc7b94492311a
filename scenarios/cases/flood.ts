import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { openClient } from '../../client/connect.ts';
import { DEFAULTS } from '../../server/config.ts';
import type { Ack } from '../../server/protocol.ts';
import { clientSourceAddress } from '../lib/client-address.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, type SentProbe, sendProbes } from '../lib/deliveries.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

/** The flood: this many events per second, 20× the default limit, for at most FLOOD_MAX_MS. */
const FLOOD_RATE = 1000;
const FLOOD_TICK_MS = 10;
const FLOOD_MAX_MS = 2000;
/** Latency probes: one from a client on each replica every PROBE_INTERVAL_MS. */
const PROBE_INTERVAL_MS = 20;
const BASELINE_MS = 600;

/** Keep sending one probe per sender until `active()` turns false (at least `minRounds` rounds). */
async function probeWhile(senders: readonly PooledClient[], active: () => boolean, minRounds: number): Promise<SentProbe[]> {
  const probes: SentProbe[] = [];
  for (let round = 0; round < minRounds || active(); round++) {
    probes.push(...(await sendProbes(senders, 1)));
    await sleep(PROBE_INTERVAL_MS);
  }
  return probes;
}

function setting(env: Readonly<Record<string, string>> | undefined, name: keyof typeof DEFAULTS): number {
  const value = env?.[name];
  return Number(value === undefined || value === '' ? DEFAULTS[name] : value);
}

export const flood: Scenario = {
  name: 'flood',
  proves:
    'a client flooding broadcasts at 20x the per-socket limit gets RATE_LIMITED, only its accepted events are broadcast (exactly once, refused ones nowhere), it is disconnected after sustained abuse, and the other clients keep their latency',
  async run({ topology, clients: count }) {
    const env = topology.options.replicaEnv;
    const limit = {
      eventsPerSec: setting(env, 'RATE_LIMIT_EVENTS_PER_SEC'),
      burst: setting(env, 'RATE_LIMIT_BURST'),
      disconnectAfter: setting(env, 'RATE_LIMIT_DISCONNECT_AFTER'),
    };
    if (limit.eventsPerSec === 0) return skipped('the rate limit is off (RATE_LIMIT_EVENTS_PER_SEC=0)');
    const { proxyUrl, replicas } = topology.endpoints();
    // One at a time, so leastconn spreads them evenly (a burst of handshakes
    // can leave a replica without any, and the flooder may land there).
    const observers = await openClients(proxyUrl, Math.max(replicas.length * 2, Math.min(count, replicas.length * 4)), undefined, {
      concurrency: 1,
    });
    // The flooder comes through the proxy like everyone else, from its own address.
    const { socket: flooder, welcome } = await openClient(
      proxyUrl,
      { transports: ['websocket'], reconnection: false, localAddress: clientSourceAddress(observers.length + 10, proxyUrl) },
      10_000,
    ).catch((error: unknown) => {
      closeClients(observers);
      throw error;
    });
    try {
      const groups = byReplica(observers);
      const senders = [...groups.values()].map((group) => group[0]!);

      // Warm-up, not measured: the default transports start on polling and upgrade to WebSocket.
      await collectDeliveries({ probes: await probeWhile(senders, () => false, 3), recipients: observers });
      const baseline = await probeWhile(senders, () => false, Math.ceil(BASELINE_MS / PROBE_INTERVAL_MS));
      const before = await collectDeliveries({ probes: baseline, recipients: observers });

      // Flood: FLOOD_RATE broadcasts a second, each with an ack, until the replica cuts the flooder off.
      const run = randomUUID().slice(0, 8);
      const accepted: string[] = [];
      const refused: string[] = [];
      let other = 0;
      let sent = 0;
      let flooding = true;
      const started = performance.now();
      const flooded = (async () => {
        while (flooder.connected && performance.now() - started < FLOOD_MAX_MS) {
          for (let i = 0; i < (FLOOD_RATE * FLOOD_TICK_MS) / 1000 && flooder.connected; i++) {
            const key = `flood-${run}-${sent++}`;
            flooder.emit('broadcast', { probe: key }, (reply: Ack<{ id: string }>) => {
              if (reply.ok) accepted.push(key);
              else if (reply.error.code === 'RATE_LIMITED') refused.push(key);
              else other += 1;
            });
          }
          await sleep(FLOOD_TICK_MS);
        }
        flooding = false;
      })();
      const duringProbes = await probeWhile(senders, () => flooding, 5);
      await flooded;
      const floodMs = Math.round(performance.now() - started);
      const flooderDisconnected = !flooder.connected;
      const during = await collectDeliveries({ probes: duringProbes, recipients: observers });

      // The fence inside collectDeliveries has passed: every flood message that will ever arrive has.
      let floodLost = 0;
      let floodDuplicated = 0;
      let floodLeaked = 0;
      for (const observer of observers) {
        for (const key of accepted) {
          const times = observer.received.get(key) ?? 0;
          if (times === 0) floodLost += 1;
          if (times > 1) floodDuplicated += times - 1;
        }
        for (const key of refused) floodLeaked += observer.received.get(key) ?? 0;
      }

      const check = new Checks();
      const maxAccepted = limit.burst + Math.ceil((limit.eventsPerSec * floodMs) / 1000) + 1;
      check.expect(refused.length > 0, 'the flooder was never refused');
      check.expect(accepted.length <= maxAccepted, `accepted ${accepted.length} floods, the limit allows ${maxAccepted} in ${floodMs} ms`);
      check.equal(other, 0, 'flood replies other than ok or RATE_LIMITED');
      check.equal(flooderDisconnected, limit.disconnectAfter > 0, 'flooder disconnected after sustained abuse');
      check.equal(floodLeaked, 0, 'refused flood messages delivered');
      check.equal(floodLost, 0, 'accepted flood messages lost');
      check.equal(floodDuplicated, 0, 'accepted flood messages duplicated');
      check.equal(before.lost + during.lost, 0, 'latency probes lost');
      check.equal(before.duplicated + during.duplicated, 0, 'latency probes duplicated');
      check.expect((groups.get(welcome.replica)?.length ?? 0) > 0, `no observer shares the flooder's replica ${welcome.replica}`);
      // The others' latency before and during the flood is reported, not
      // asserted: wall-clock bounds on a shared 2-core machine make flaky
      // tests. `npm run bench` is where latency targets live.
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          limit: `${limit.eventsPerSec}/s burst ${limit.burst} cut-off ${limit.disconnectAfter}`,
          floodSent: sent,
          floodAccepted: accepted.length,
          floodRefused: refused.length,
          floodUnanswered: sent - accepted.length - refused.length - other,
          floodMs,
          flooderDisconnected,
          floodLeaked,
          observers: observers.length,
          beforeP50Ms: before.latency.p50,
          beforeP99Ms: before.latency.p99,
          duringP50Ms: during.latency.p50,
          duringP99Ms: during.latency.p99,
          p99Ratio: before.latency.p99 > 0 ? Math.round((during.latency.p99 / before.latency.p99) * 100) / 100 : 0,
          duringProbes: during.probes,
        },
      };
    } finally {
      flooder.disconnect();
      closeClients(observers);
    }
  },
};
