import { performance } from 'node:perf_hooks';
import { acceptedBetween, startBroadcastFlow, tallyDeliveries } from '../lib/broadcast-flow.ts';
import { byReplica, closeClients, openClients } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { httpGetOf } from '../lib/http-get.ts';
import { askClusterReplicas, clusterReplicasAgainMs, deliveryGap, everyReadyzIs, sumOverReplicas, watchReadyz } from '../lib/redis-fault.ts';
import { waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';
import type { AdapterKind, RedisMode } from '../topology.ts';

/**
 * Bounds, from kill -9 of the master: Sentinel needs down-after (1 s here)
 * plus an election; a cluster needs cluster-node-timeout (1 s) plus its own
 * election; then node-redis reconnects (backoff capped at 2 s) and the
 * adapters resubscribe. Measured 2–5 s on this machine; the bound leaves room
 * for a loaded CI box.
 */
export const FAILOVER_BOUND_MS = 20_000;
/** From server/metrics.ts (METRIC_NAMES.adapterPublishErrors). */
const PUBLISH_ERRORS = 'wsk_adapter_publish_errors_total';

/** The key whose slot carries the adapter's broadcasts: its master is the one to kill in a cluster. */
export function adapterKey(adapter: AdapterKind): string {
  // The streams adapter's stream (default name), the sharded adapter's namespace channel.
  return adapter === 'redis-streams' ? 'socket.io' : 'socket.io#/#';
}

type Fault = 'kill' | 'switchover';

function failoverScenario(name: string, mode: Exclude<RedisMode, 'standalone'>, fault: Fault = 'kill'): Scenario {
  const what =
    fault === 'switchover'
      ? 'SENTINEL FAILOVER (a switchover forced by an operator)'
      : `kill -9 of ${mode === 'sentinel' ? 'the Sentinel master' : 'the cluster master serving the adapter'}`;
  return {
    name,
    proves: `${what} under broadcast traffic: every replica follows the new master, /readyz shows the gap, broadcasts and cluster:replicas work again within ${FAILOVER_BOUND_MS / 1000} s; reports the gap and the losses (streams: none beyond the publishes the kill cut)`,
    async run({ topology, clients: count, log }) {
      if (
        (topology.options.redis ?? 'standalone') !== mode ||
        !topology.killRedisMaster ||
        !topology.reviveRedisNodes ||
        (fault === 'switchover' && !topology.forceRedisSwitchover)
      ) {
        return skipped(`needs --redis ${mode} (${mode === 'sentinel' ? 'local, compose or swarm topology' : 'local topology'})`);
      }
      const { proxyUrl, replicas } = topology.endpoints();
      const get = httpGetOf(topology);
      const clients = await openClients(proxyUrl, count);
      const check = new Checks();
      let killed: string | undefined;
      try {
        // Polling requests during the gap would find no ready replica behind the proxy.
        await waitFor(() => clients.every((c) => c.socket.io.engine?.transport?.name === 'websocket'), {
          what: 'every client to upgrade to WebSocket',
          timeoutMs: 10_000,
        });
        await everyReadyzIs(replicas, 200, 'every replica to be ready before the kill', 20_000, get);
        const senders = [...byReplica(clients).values()].map((group) => group[0]!);
        const ids = replicas.map((r) => r.id);
        const baseline = await askClusterReplicas(senders[0]!, 7000);
        check.expect(baseline.complete && baseline.replicas.length === ids.length, `cluster:replicas before the kill: ${JSON.stringify(baseline)}`);

        const flow = startBroadcastFlow(() => senders, { intervalMs: 100, maxRounds: 600 });
        await waitFor(() => flow.sent.some((p) => p.accepted), { what: 'the broadcast flow to start', timeoutMs: 5000 });
        const publishErrorsBefore = await sumOverReplicas(replicas, PUBLISH_ERRORS, get);
        const readyz = watchReadyz(replicas, 2000, get);
        const killedAt = performance.now();
        if (fault === 'switchover') {
          killed = await topology.forceRedisSwitchover!();
          log(`SENTINEL FAILOVER: new master ${killed}, broadcasts flowing from ${senders.length} replicas`);
        } else {
          killed = await topology.killRedisMaster(mode === 'cluster' ? adapterKey(topology.options.adapter) : undefined);
          log(`killed Redis master ${killed} (kill -9) with broadcasts flowing from ${senders.length} replicas`);
        }

        // The gap as the replicas see it: some /readyz 503, then every one 200 again.
        // kill: until the process has exited; switchover: until the sentinels name the new master.
        const faultMs = Math.round(performance.now() - killedAt);
        const sawGap = await waitFor(() => readyz.seen().size > 0, {
          what: 'some replica /readyz to answer 503 after the kill',
          timeoutMs: 10_000,
          intervalMs: 50,
        }).catch(() => false);
        const readyAgainMs = await everyReadyzIs(replicas, 200, 'every replica /readyz 200 after the failover', FAILOVER_BOUND_MS, get)
          .then(() => Math.round(performance.now() - killedAt))
          .catch(() => -1);
        const readyAt = performance.now();
        const clusterAgainMs = await clusterReplicasAgainMs(senders[0]!, ids, killedAt, FAILOVER_BOUND_MS);
        await waitFor(() => flow.sent.filter((p) => p.accepted && p.sentAt > readyAt).length >= 3 * senders.length, {
          what: 'broadcasts sent after the failover',
          timeoutMs: 10_000,
        }).catch(() => undefined);
        const flowProbes = await flow.stop();
        const notReady = await readyz.stop();
        const fresh = await collectDeliveries({ probes: await sendProbes(senders, 2), recipients: clients });
        const answers = await Promise.all(senders.map((s) => askClusterReplicas(s, 7000)));

        const gap = deliveryGap(flowProbes, clients, killedAt);
        const before = tallyDeliveries(acceptedBetween(flowProbes, 0, killedAt), clients);
        const during = acceptedBetween(flowProbes, killedAt, readyAt);
        const after = tallyDeliveries(acceptedBetween(flowProbes, readyAt), clients);
        // Delivered from the first probe after which nothing was missed.
        const resumeMs = resumedAfter(flowProbes, clients, killedAt);
        const refused = flowProbes.filter((p) => !p.accepted && p.sentAt >= killedAt).length;
        const publishErrorsAfter = await sumOverReplicas(replicas, PUBLISH_ERRORS, get);
        const cutPublishes =
          publishErrorsBefore === undefined || publishErrorsAfter === undefined ? -1 : publishErrorsAfter - publishErrorsBefore;
        const disconnects = clients.flatMap((c) => c.disconnects).length;

        // A switchover may be seamless (the demoted master answers until the switch): not required there.
        if (fault === 'kill') check.expect(sawGap === true, 'no replica /readyz answered 503 after the master was killed (the gap went unseen)');
        check.expect(readyAgainMs >= 0, `not every replica /readyz 200 within ${FAILOVER_BOUND_MS} ms of the kill`);
        check.expect(clusterAgainMs >= 0, `cluster:replicas not complete again within ${FAILOVER_BOUND_MS} ms of the kill`);
        for (const [i, answer] of answers.entries()) {
          check.expect(
            answer.complete && answer.replicas.join(',') === [...ids].sort().join(','),
            `cluster:replicas via ${senders[i]!.replica} after the failover: ${JSON.stringify(answer)}`,
          );
        }
        check.equal(fresh.lost, 0, 'lost deliveries after the failover');
        check.equal(fresh.duplicated, 0, 'duplicated deliveries after the failover');
        check.equal(after.lost, 0, 'broadcasts lost after every /readyz said ready again');
        check.equal(before.lost, 0, 'broadcasts lost before the kill');
        check.equal(disconnects, 0, 'client disconnects during the failover');
        check.expect(resumeMs >= 0 && resumeMs <= FAILOVER_BOUND_MS, `broadcasts delivered again ${resumeMs} ms after the kill (bound ${FAILOVER_BOUND_MS})`);
        if (topology.options.adapter === 'redis-streams') {
          // What the streams adapter cannot save: an XADD the dying master never answered (counted
          // as a publish error). Anything beyond that was acknowledged and then lost.
          check.expect(cutPublishes >= 0, "cannot read the replicas' /metrics to account for cut publishes");
          check.equal(Math.max(0, gap.lostProbes - Math.max(0, cutPublishes)), 0, 'streams broadcasts lost beyond the publishes the kill cut');
        }
        return {
          ok: check.ok,
          failures: check.failures,
          metrics: {
            adapter: topology.options.adapter,
            [fault === 'kill' ? 'killed' : 'newMaster']: killed,
            clients: clients.length,
            faultMs,
            readyAgainMs,
            notReadyMsMax: Math.max(0, ...notReady.values()),
            replicasNotReady: notReady.size,
            clusterReplicasAgainMs: clusterAgainMs,
            deliveringAgainMs: resumeMs,
            lastLossMs: gap.lastLossMs,
            gapBroadcasts: during.length,
            lostProbes: gap.lostProbes,
            lostDeliveries: gap.lostDeliveries,
            refused,
            cutPublishes,
            afterLost: after.lost + fresh.lost,
            disconnects,
          },
        };
      } finally {
        closeClients(clients);
        if (killed !== undefined) {
          // Back to full strength for the scenarios that follow: the old master rejoins as a replica.
          await topology.reviveRedisNodes();
        }
      }
    },
  };
}

/**
 * ms from `since` to the send time of the first accepted probe after which
 * every accepted probe reached every recipient; -1 if the flow never got
 * there. 0 when nothing was missed after `since`.
 */
export function resumedAfter(probes: readonly { key: string; sentAt: number; accepted: boolean }[], recipients: readonly { received: ReadonlyMap<string, number> }[], since: number): number {
  const later = probes.filter((p) => p.accepted && p.sentAt >= since).sort((a, b) => a.sentAt - b.sentAt);
  let resume: number | undefined;
  for (const probe of later) {
    const complete = recipients.every((client) => client.received.has(probe.key));
    if (!complete) resume = undefined;
    else resume ??= probe.sentAt;
  }
  if (later.length === 0) return -1;
  if (resume === undefined) return -1;
  return Math.max(0, Math.round(resume - since));
}

export const redisFailover = failoverScenario('redis-failover', 'sentinel');
export const redisClusterFailover = failoverScenario('redis-cluster-failover', 'cluster');
export const redisSwitchover = failoverScenario('redis-switchover', 'sentinel', 'switchover');
