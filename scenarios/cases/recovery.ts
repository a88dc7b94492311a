import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tallyDeliveries } from '../lib/broadcast-flow.ts';
import { closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, type SentProbe, sendProbes } from '../lib/deliveries.ts';
import { pickVictim } from '../lib/fault-watch.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { driverFor } from '../drivers.ts';
import { Checks, type MetricValue, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';
import type { AdapterKind, Topology } from '../topology.ts';

/** Broadcasts sent while the victims are disconnected. */
const BURST = 5;
const CLIENTS = 9;
const RECONNECT_TIMEOUT_MS = 30_000;

export interface RecoveryOutcome {
  adapter: AdapterKind;
  victim: string;
  victims: number;
  /** Burst broadcasts sent (accepted) while every victim was disconnected. */
  sentWhileAway: number;
  /** Of those, deliveries the victims never got. */
  lost: number;
  duplicated: number;
  /** Victims whose reconnection restored their session (`socket.recovered`, welcome.recovered). */
  recovered: number;
  reconnectMs: number;
  /** Clients that never came back. */
  stranded: number;
}

/**
 * The fault both adapters face: SIGTERM one replica (as `docker stop` and a
 * rolling restart do; the replica persists its clients' sessions as it closes
 * them), and while its clients are disconnected a client on another replica
 * broadcasts. Then count what the victims got once they reconnected.
 */
async function measure(
  topology: Topology,
  count: number,
  log: (m: string) => void,
  restore: boolean,
): Promise<RecoveryOutcome> {
  const { proxyUrl } = topology.endpoints();
  // One at a time, so leastconn sees each WebSocket before balancing the next
  // (a burst of handshakes can all land on one replica under load).
  const clients = await openClients(proxyUrl, count, undefined, { concurrency: 1 });
  const victimId = pickVictim(clients, 'most')!;
  let signalled: Promise<unknown> | undefined;
  try {
    const victims = clients.filter((c) => c.replica === victimId);
    const others = clients.filter((c) => c.replica !== victimId);
    const sender = others[0];
    if (!sender) throw new Error(`every client landed on ${victimId}; need one on another replica`);
    // Recovery resumes from the last broadcast a client received: give every client one.
    await collectDeliveries({ probes: await sendProbes([sender], 1), recipients: clients });

    const welcomed = new Map<PooledClient, boolean>();
    for (const victim of victims) victim.socket.once('welcome', (w) => welcomed.set(victim, w.recovered));
    // The burst goes out the moment the last victim is cut off; socket.io-client
    // waits at least 500 ms (1 s ± 50 %) before its first reconnection attempt.
    const away = new Promise<void>((resolve) => {
      let left = victims.length;
      for (const victim of victims) victim.socket.once('disconnect', () => --left === 0 && resolve());
    });
    log(`${topology.options.adapter}: SIGTERM ${victimId} (${victims.length} clients)`);
    const startedAt = performance.now();
    signalled = topology.kill(victimId, 'SIGTERM');
    signalled.catch(() => undefined);
    await away;
    const burst: SentProbe[] = [];
    for (const probe of await sendProbes([sender], BURST)) {
      // Count only what was accepted while every victim was still away.
      if (victims.every((v) => !v.socket.connected)) burst.push(probe);
    }
    let reconnectMs = -1;
    try {
      await waitFor(() => victims.every((v) => v.socket.connected && welcomed.has(v)), {
        what: `the clients of ${victimId} to reconnect`,
        timeoutMs: RECONNECT_TIMEOUT_MS,
        intervalMs: 20,
      });
      reconnectMs = Math.round(performance.now() - startedAt);
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error;
    }
    await signalled;
    // A later round is the fence: whatever the victims lack of the burst after it is lost.
    await collectDeliveries({ probes: await sendProbes([sender], 1), recipients: clients.filter((c) => c.socket.connected) });
    const tally = tallyDeliveries(burst, victims);
    return {
      adapter: topology.options.adapter,
      victim: victimId,
      victims: victims.length,
      sentWhileAway: burst.length,
      lost: tally.lost,
      duplicated: tally.duplicated + tallyDeliveries(burst, others).duplicated,
      recovered: victims.filter((v) => v.socket.recovered && welcomed.get(v) === true).length,
      reconnectMs,
      stranded: victims.filter((v) => !v.socket.connected).length,
    };
  } finally {
    closeClients(clients);
    await signalled?.catch(() => undefined);
    if (restore && !topology.endpoints().replicas.some((r) => r.id === victimId)) await topology.start(victimId);
  }
}

/** The adapter to compare with: streams against the topology's pub/sub one, or classic pub/sub against streams. */
export function counterpartOf(adapter: AdapterKind): AdapterKind {
  return adapter === 'redis-streams' ? 'redis' : 'redis-streams';
}

export const recovery: Scenario = {
  name: 'recovery',
  proves:
    'connection state recovery: with redis-streams a client whose replica is stopped reconnects elsewhere with socket.recovered and every broadcast it missed; the pub/sub adapter loses them in the same fault',
  async run({ topology, clients: requested, log }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    if (topology.endpoints().replicas.length < 2) return skipped('needs at least 2 replicas');
    const count = Math.min(requested, CLIENTS);
    const other = counterpartOf(topology.options.adapter);
    const parentLogDir = topology.options.logDir ?? ('logDirectory' in topology ? String(topology.logDirectory) : undefined);
    const logDir = parentLogDir ? join(parentLogDir, `recovery-${other}`) : undefined;
    if (logDir) await mkdir(logDir, { recursive: true });
    // The counterpart, a second topology of the same kind (its own Compose
    // project or Swarm stack there), comes up and takes the same fault
    // while the main topology takes it.
    const counterpart = driverFor(topology.kind).then((driver) =>
      driver.up({
        kind: topology.kind,
        proxy: topology.options.proxy,
        replicas: 2,
        adapter: other,
        ...(logDir ? { logDir } : {}),
        ...(topology.options.replicaEnv ? { replicaEnv: topology.options.replicaEnv } : {}),
      }),
    );
    counterpart.catch(() => undefined);
    try {
      const [mainRun, theirRun] = await Promise.allSettled([
        measure(topology, count, log, true),
        // Torn down right after: its stopped replica need not come back.
        counterpart.then((second) => measure(second, count, log, false)),
      ]);
      if (mainRun.status === 'rejected') throw mainRun.reason;
      if (theirRun.status === 'rejected') throw theirRun.reason;
      const main = mainRun.value;
      const theirs = theirRun.value;
      const streams = main.adapter === 'redis-streams' ? main : theirs;
      const pubSub = main.adapter === 'redis-streams' ? theirs : main;
      const check = new Checks();
      for (const outcome of [streams, pubSub]) {
        check.expect(outcome.sentWhileAway > 0, `${outcome.adapter}: no broadcast went out while the victims were away`);
        check.equal(outcome.stranded, 0, `${outcome.adapter}: clients that did not reconnect`);
        check.equal(outcome.duplicated, 0, `${outcome.adapter}: duplicated deliveries`);
      }
      check.equal(streams.lost, 0, 'redis-streams: broadcasts missed across the reconnection');
      check.equal(streams.recovered, streams.victims, 'redis-streams: reconnections with socket.recovered');
      // The control: if the pub/sub adapter lost nothing, the fault did not open a gap to recover.
      check.expect(pubSub.lost > 0, `${pubSub.adapter}: lost nothing, so the fault proved nothing`);
      check.equal(pubSub.recovered, 0, `${pubSub.adapter}: claims recovered sessions it cannot have`);
      const metrics: Record<string, MetricValue> = {
        victimsStreams: streams.victims,
        sentWhileAway: streams.sentWhileAway,
        lostStreams: streams.lost,
        recoveredStreams: `${streams.recovered}/${streams.victims}`,
        reconnectMsStreams: streams.reconnectMs,
        pubSubAdapter: pubSub.adapter,
        victimsPubSub: pubSub.victims,
        sentWhileAwayPubSub: pubSub.sentWhileAway,
        lostPubSub: pubSub.lost,
        recoveredPubSub: `${pubSub.recovered}/${pubSub.victims}`,
        reconnectMsPubSub: pubSub.reconnectMs,
      };
      return { ok: check.ok, failures: check.failures, metrics };
    } finally {
      // Down even when the main measurement failed, so nothing it started is left running.
      await (await counterpart.catch(() => undefined))?.down();
    }
  },
};
