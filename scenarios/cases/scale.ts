import { performance } from 'node:perf_hooks';
import { whoami } from '../../client/api.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';

const ADDED = 2;
const RECONNECT_TIMEOUT_MS = 30_000;

/** One sender per replica currently holding clients. */
function sendersOf(clients: readonly PooledClient[]): PooledClient[] {
  return [...byReplica(clients.filter((c) => c.socket.connected)).values()].map((group) => group[0]!);
}

export const scale: Scenario = {
  name: 'scale',
  proves: `N → N+${ADDED} with clients connected: the proxy finds new replicas without a restart, new clients land there, old ones stay put; back to N: moved clients reconnect and still get every broadcast`,
  async run({ topology, clients: count, log }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    const before = topology.endpoints().replicas;
    const n = before.length;
    const check = new Checks();
    const firstWave = await openClients(topology.endpoints().proxyUrl, Math.ceil(count / 2));
    const all: PooledClient[] = [...firstWave];
    try {
      log(`scaling ${n} → ${n + ADDED}`);
      const upStarted = performance.now();
      await topology.scale(n + ADDED);
      const scaleUpMs = Math.round(performance.now() - upStarted);
      const grown = topology.endpoints();
      const added = grown.replicas.filter((r) => !before.some((b) => b.id === r.id)).map((r) => r.id);
      check.equal(added.length, ADDED, 'replicas added');

      // One at a time: leastconn counts sessions in progress, and a burst of
      // polling handshakes (each over in a millisecond) can all see the same
      // counts and go to one server. Sequential opens let each WebSocket
      // settle first, so the balance seen is the proxy's, not the race's.
      const secondWave = await openClients(grown.proxyUrl, Math.ceil(count / 2), undefined, {
        firstIndex: firstWave.length,
        concurrency: 1,
      });
      all.push(...secondWave);
      const onNew = secondWave.filter((c) => added.includes(c.replica)).length;
      const newReplicasUsed = new Set(secondWave.map((c) => c.replica).filter((r) => added.includes(r))).size;
      if (topology.options.proxy === 'haproxy') {
        check.equal(newReplicasUsed, ADDED, 'new replicas that received new clients');
      } else {
        check.expect(onNew > 0 || secondWave.length < 3, 'no new client landed on a new replica');
      }

      // Old clients keep their replica: same answer, no reconnection.
      const moved = (
        await Promise.all(firstWave.map(async (c) => ((await whoami(c.socket)).replica === c.firstReplica ? 0 : 1)))
      ).reduce<number>((a, b) => a + b, 0);
      check.equal(moved, 0, 'existing clients moved by the scale-up');
      check.equal(firstWave.filter((c) => c.welcomes > 1).length, 0, 'existing clients that reconnected during scale-up');

      const grownReport = await collectDeliveries({ probes: await sendProbes(sendersOf(all), 2), recipients: all });
      check.equal(grownReport.lost, 0, `lost deliveries at ${n + ADDED} replicas`);
      check.equal(grownReport.duplicated, 0, `duplicated deliveries at ${n + ADDED} replicas`);

      log(`scaling ${n + ADDED} → ${n}`);
      const onRemoved = all.filter((c) => added.includes(c.replica));
      const downStarted = performance.now();
      await topology.scale(n);
      const survivors = new Set(topology.endpoints().replicas.map((r) => r.id));
      let reconnectMs = -1;
      try {
        await waitFor(() => all.every((c) => c.socket.connected && survivors.has(c.replica)), {
          what: 'clients of removed replicas to reconnect to survivors',
          timeoutMs: RECONNECT_TIMEOUT_MS,
          intervalMs: 100,
        });
        reconnectMs = Math.round(performance.now() - downStarted);
      } catch (error) {
        if (!(error instanceof WaitTimeoutError)) throw error;
      }
      const stranded = all.filter((c) => !c.socket.connected || !survivors.has(c.replica)).length;
      check.equal(stranded, 0, 'clients not back on a surviving replica');

      const shrunkReport = await collectDeliveries({ probes: await sendProbes(sendersOf(all), 2), recipients: all });
      check.equal(shrunkReport.lost, 0, `lost deliveries back at ${n} replicas`);
      check.equal(shrunkReport.duplicated, 0, `duplicated deliveries back at ${n} replicas`);

      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          from: n,
          to: n + ADDED,
          scaleUpMs,
          newClientsOnNewReplicas: onNew,
          newClients: secondWave.length,
          movedByScaleUp: moved,
          clientsOnRemoved: onRemoved.length,
          reconnectMs,
          stranded,
          lost: grownReport.lost + shrunkReport.lost,
          duplicated: grownReport.duplicated + shrunkReport.duplicated,
        },
      };
    } finally {
      closeClients(all);
      // Leave the topology as the next scenario expects it, whatever happened above.
      if (topology.endpoints().replicas.length !== n) await topology.scale(n);
    }
  },
};
