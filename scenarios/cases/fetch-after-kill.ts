import { performance } from 'node:perf_hooks';
import { byReplica, closeClients, openClients } from '../lib/client-pool.ts';
import { pickVictim } from '../lib/fault-watch.ts';
import { askClusterReplicas, clusterReplicasAgainMs } from '../lib/redis-fault.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

/**
 * `cluster:replicas` is bounded by the replica: the adapters' request
 * timeout (5 s, classic adapter) or their fixed 5 s (sharded, streams), and a
 * safety net 1 s above (server/app.ts clusterTimeoutMs + 1000). Plus slack
 * for a loaded machine.
 */
export const CLUSTER_REPLICAS_BOUND_MS = 6000 + 1000;

export const fetchAfterKill: Scenario = {
  name: 'fetch-after-kill',
  proves: `right after kill -9 of a replica, cluster:replicas on a survivor answers within ${CLUSTER_REPLICAS_BOUND_MS / 1000} s (never hangs) without the dead replica; once it is started again the answer is complete with every replica`,
  async run({ topology, clients: count }) {
    const { proxyUrl, replicas } = topology.endpoints();
    if (replicas.length < 2) return skipped('needs at least 2 replicas');
    const clients = await openClients(proxyUrl, Math.min(count, 6 * replicas.length));
    const check = new Checks();
    let victim: string | undefined;
    try {
      const ids = replicas.map((r) => r.id).sort();
      const askers = [...byReplica(clients).values()].map((group) => group[0]!);
      const before = await askClusterReplicas(askers[0]!, CLUSTER_REPLICAS_BOUND_MS + 2000);
      check.expect(before.complete && before.replicas.join(',') === ids.join(','), `cluster:replicas before the kill: ${JSON.stringify(before)}`);
      victim = pickVictim(clients, 'fewest');
      const asker = askers.find((c) => c.replica !== victim)!;
      const killedAt = performance.now();
      await topology.kill(victim!, 'SIGKILL');
      const killMs = Math.round(performance.now() - killedAt);
      // The client's own timeout is past the replica's bound: a hang shows as answered=false.
      const after = await askClusterReplicas(asker, CLUSTER_REPLICAS_BOUND_MS + 5000);
      const survivors = ids.filter((id) => id !== victim);
      check.expect(after.answered, `cluster:replicas after the kill did not answer: ${after.error}`);
      check.expect(after.ms <= CLUSTER_REPLICAS_BOUND_MS, `cluster:replicas after the kill took ${after.ms} ms (bound ${CLUSTER_REPLICAS_BOUND_MS})`);
      check.expect(!after.replicas.includes(victim!), `cluster:replicas still lists the killed ${victim}`);
      check.expect(survivors.every((id) => after.replicas.includes(id)), `cluster:replicas misses a survivor: [${after.replicas}]`);

      const startedAt = performance.now();
      await topology.start(victim!);
      victim = undefined;
      const completeAgainMs = await clusterReplicasAgainMs(asker, ids, startedAt, 20_000);
      check.expect(completeAgainMs >= 0, 'cluster:replicas not complete again within 20 s of the restart');
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          adapter: topology.options.adapter,
          redis: topology.options.redis ?? 'standalone',
          beforeMs: before.ms,
          killMs,
          afterMs: after.ms,
          afterComplete: after.complete,
          afterReplicas: after.replicas.length,
          completeAgainMs,
        },
      };
    } finally {
      closeClients(clients);
      if (victim !== undefined) await topology.start(victim).catch(() => undefined);
    }
  },
};
