import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptedBetween, startFlowAroundVictim, tallyDeliveries } from '../lib/broadcast-flow.ts';
import { clientSourceAddress } from '../lib/client-address.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import {
  type CountedClient,
  openCountingErrors,
  pickVictim,
  proxyMarkDownMs,
  readyzStatus,
  recordNextWelcome,
  sum,
} from '../lib/fault-watch.ts';
import { httpGetOf } from '../lib/http-get.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';

/** The replica's defaults (server/config.ts); a topology's replicaEnv may override them. */
const DEFAULT_DRAIN_DELAY_MS = 3000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const MOVE_TIMEOUT_MS = 30_000;
/**
 * Behind Nginx: rounds of fresh clients, paced over BACK_TIMEOUT_MS, until
 * one reaches the restarted replica. The window must outlast Nginx's
 * fail_timeout (10 s): the draining replica's 503s (proxy_next_upstream
 * http_503) mark its address failed that long, and a restarted container
 * often gets the same address back.
 */
const BACK_ROUNDS = 8;
const BACK_TIMEOUT_MS = 14_000;
const BACK_ROUND_PAUSE_MS = 1_500;

function envMs(env: Readonly<Record<string, string>> | undefined, name: string, fallback: number): number {
  const value = Number(env?.[name]);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export const drain: Scenario = {
  name: 'drain',
  proves:
    'SIGTERM (a rolling restart) drains a replica: /readyz 503 takes it out of the proxy, new clients go elsewhere, its clients move, it exits within its bound; started again it gets clients again',
  async run({ topology, clients: count, log }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    const { proxyUrl, replicas } = topology.endpoints();
    if (replicas.length < 2) return skipped('needs at least 2 replicas');
    const drainDelayMs = envMs(topology.options.replicaEnv, 'DRAIN_DELAY_MS', DEFAULT_DRAIN_DELAY_MS);
    const shutdownTimeoutMs = envMs(topology.options.replicaEnv, 'SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS);
    const clients = await openClients(proxyUrl, count);
    const extra: CountedClient[] = [];
    const check = new Checks();
    // The replica with the fewest clients: the one leastconn would hand the next client to.
    const victimId = pickVictim(clients, 'fewest')!;
    const victim = replicas.find((r) => r.id === victimId)!;
    let exited = false;
    let stopping: Promise<void> | undefined;
    try {
      const { moved, stayed, flow } = await startFlowAroundVictim(clients, victimId);

      log(`SIGTERM ${victimId} (${moved.length} clients), drain delay ${drainDelayMs} ms`);
      const movedAt = new Map<PooledClient, number>();
      const signalledAt = performance.now();
      recordNextWelcome(moved, signalledAt, movedAt);
      let exitMs = -1;
      stopping = topology.kill(victimId, 'SIGTERM').then(() => {
        exitMs = Math.round(performance.now() - signalledAt);
        exited = true;
      });
      // Surface a failed kill at the end, not as an unhandled rejection now.
      stopping.catch(() => undefined);

      const notReadyMs = await waitFor(
        async () => ((await readyzStatus(victim.url, 1000, httpGetOf(topology))) === 503 ? Math.round(performance.now() - signalledAt) : false),
        { what: `${victimId} /readyz to answer 503`, timeoutMs: drainDelayMs + 2000, intervalMs: 20 },
      ).catch(() => -1);
      const markDownMs = await proxyMarkDownMs(topology, victim.address, signalledAt, drainDelayMs + 5000).catch(() => -1);

      // New clients during the drain window, from fresh source addresses. A proxy without
      // health checks (Nginx) sends some to the draining replica, which refuses them until
      // it exits: they may wait for its exit plus one reconnection backoff (≤ 5 s × 1.5).
      const windowClients = Math.max(6, 2 * replicas.length);
      const openedWhileAlive = !exited;
      const windowTimeoutMs = shutdownTimeoutMs + 10_000;
      const opened = await Promise.all(
        Array.from({ length: windowClients }, (_, i) =>
          openCountingErrors(proxyUrl, clientSourceAddress(count + i, proxyUrl), windowTimeoutMs),
        ),
      );
      extra.push(...opened);
      const landedOnDraining = opened.filter((c) => c.welcome.replica === victimId).length;
      const windowConnectErrors = sum(opened, (c) => c.connectErrors);

      let moveMs = -1;
      try {
        await waitFor(() => moved.every((c) => c.socket.connected && c.welcomes > 1 && c.replica !== victimId), {
          what: `the ${moved.length} clients of ${victimId} to move to other replicas`,
          timeoutMs: MOVE_TIMEOUT_MS,
          intervalMs: 20,
        });
        moveMs = Math.max(0, ...movedAt.values());
      } catch (error) {
        if (!(error instanceof WaitTimeoutError)) throw error;
      }
      await stopping;
      const flowProbes = await flow.stop();

      // Fence, then count what the drained clients missed while they moved.
      const fence = await collectDeliveries({
        probes: await sendProbes([...byReplica(clients.filter((c) => c.socket.connected)).values()].map((g) => g[0]!), 1),
        recipients: clients,
      });
      const accepted = acceptedBetween(flowProbes, 0);
      const movedTally = tallyDeliveries(accepted, moved);
      const stayedTally = tallyDeliveries(accepted, stayed);
      // Connection state recovery (redis-streams) replays what a client missed; a broadcast
      // arriving while the new replica restores the session can come twice (replayed, then
      // live) or not at all. Upstream's race, reported apart; everyone else gets exactly once.
      const recoveredClients = moved.filter((c) => c.socket.recovered);
      const recovered = recoveredClients.length;
      const recoveredDuplicates = tallyDeliveries(accepted, recoveredClients).duplicated;

      log(`starting ${victimId} again`);
      await topology.start(victimId);
      // Clients from the moved clients' source addresses: HAProxy's leastconn sends
      // them to the empty replica; Nginx's ip_hash maps those addresses to it.
      const back = await Promise.all(
        moved.slice(0, Math.max(3, replicas.length)).map((c) => openCountingErrors(proxyUrl, clientSourceAddress(c.index, proxyUrl))),
      );
      extra.push(...back);
      // Nginx that follows DNS (Compose, `server … resolve`) re-adds the replica
      // within its resolver's `valid=` time, maybe at another address and
      // list position, so ip_hash may map the old addresses elsewhere: fresh
      // addresses then, a few at a time, until one lands there (bounded).
      if (topology.options.proxy === 'nginx') {
        const deadline = performance.now() + BACK_TIMEOUT_MS;
        for (let round = 0; round < BACK_ROUNDS && !back.some((c) => c.welcome.replica === victimId); round++) {
          if (performance.now() > deadline) break;
          const fresh = await Promise.all(
            Array.from({ length: 6 }, (_, i) => openCountingErrors(proxyUrl, clientSourceAddress(2 * count + round * 6 + i, proxyUrl))),
          );
          back.push(...fresh);
          extra.push(...fresh);
          if (!fresh.some((c) => c.welcome.replica === victimId)) await sleep(BACK_ROUND_PAUSE_MS);
        }
      }
      const backOnRestarted = back.filter((c) => c.welcome.replica === victimId).length;

      check.expect(notReadyMs >= 0, `${victimId} /readyz never answered 503 during the drain`);
      if (markDownMs !== undefined) {
        check.expect(
          markDownMs >= 0 && markDownMs < drainDelayMs,
          `the proxy took ${victimId} out after ${markDownMs} ms, not within the drain delay (${drainDelayMs} ms)`,
        );
        // Taken out before the replica refused anyone: no new client even saw a refusal.
        check.equal(windowConnectErrors, 0, 'connect errors of clients opened during the drain');
      }
      check.equal(landedOnDraining, 0, `clients opened during the drain that landed on ${victimId}`);
      check.expect(moveMs >= 0, `clients of ${victimId} did not all move within ${MOVE_TIMEOUT_MS} ms`);
      check.expect(
        exitMs >= 0 && exitMs <= shutdownTimeoutMs,
        `${victimId} exited after ${exitMs} ms; its bound is SHUTDOWN_TIMEOUT_MS = ${shutdownTimeoutMs} ms`,
      );
      check.equal(stayed.flatMap((c) => c.disconnects).length, 0, 'disconnects of clients on other replicas');
      check.equal(stayedTally.lost, 0, 'broadcasts lost by clients of other replicas during the drain');
      check.equal(
        stayedTally.duplicated + movedTally.duplicated - recoveredDuplicates + fence.duplicated,
        0,
        'duplicated broadcasts (outside recovered sessions)',
      );
      check.equal(fence.lost, 0, 'lost deliveries after the drain');
      check.expect(backOnRestarted > 0, `no new client landed on ${victimId} after it started again`);
      const metrics: Record<string, number | string | boolean> = {
        drained: victimId,
        movedClients: moved.length,
        notReadyMs,
        ...(markDownMs === undefined ? {} : { markDownMs }),
        drainDelayMs,
        windowClients,
        openedWhileAlive,
        windowConnectErrors,
        landedOnDraining,
        moveMs,
        exitMs,
        flowBroadcasts: accepted.length,
        missedByMoved: movedTally.lost,
        missedPerMovedClient: moved.length ? Math.round((movedTally.lost / moved.length) * 10) / 10 : 0,
        recovered,
        duplicatedByRecovered: recoveredDuplicates,
        lostByOthers: stayedTally.lost,
        backOnRestarted: `${backOnRestarted}/${back.length}`,
      };
      return { ok: check.ok, failures: check.failures, metrics };
    } finally {
      closeClients(clients);
      for (const client of extra) client.socket.disconnect();
      // Leave N replicas for the next scenario, whatever happened above.
      await stopping?.catch(() => undefined);
      if (!topology.endpoints().replicas.some((r) => r.id === victimId)) await topology.start(victimId);
    }
  },
};
