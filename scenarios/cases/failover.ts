import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { acceptedBetween, startFlowAroundVictim, tallyDeliveries } from '../lib/broadcast-flow.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { pickVictim, proxyMarkDown, recordNextWelcome } from '../lib/fault-watch.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { markDownBoundMs, repositoryCheckTiming } from '../local/haproxy-check-timing.ts';
import { Checks, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';

/** The issue's expectation with default reconnection settings (1 s delay, 5 s cap). */
const RECONNECT_EXPECTED_MS = 5000;
const RECONNECT_TIMEOUT_MS = 20_000;
/** proxy_connect_timeout of nginx/nginx.conf.template, in ms (Nginx's default, 60 s, when it sets none). */
export async function nginxConnectTimeoutMs(path = join(REPO_ROOT, 'nginx', 'nginx.conf.template')): Promise<number> {
  const text = await readFile(path, 'utf8');
  const match = /^\s*proxy_connect_timeout\s+(\d+)(ms|s)?;/m.exec(text);
  if (!match) return 60_000;
  return Number(match[1]) * (match[2] === 'ms' ? 1 : 1000);
}

/** Scheduling slack on top of the check-derived bound (checks are spread, the stats poll is 20 ms). */
const MARK_DOWN_SLACK_MS = 500;

export const failover: Scenario = {
  name: 'failover',
  proves: `kill -9 of a replica under broadcast traffic: its clients are back on survivors within ~${RECONNECT_EXPECTED_MS / 1000} s, the proxy marks it down within its check bound, and every client gets every broadcast afterwards`,
  async run({ topology, clients: count, log }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    const { proxyUrl, replicas } = topology.endpoints();
    if (replicas.length < 2) return skipped('needs at least 2 replicas');
    const clients = await openClients(proxyUrl, count);
    const check = new Checks();
    const victimId = pickVictim(clients, 'most')!;
    const victim = replicas.find((r) => r.id === victimId)!;
    let restarted = false;
    try {
      const { moved, stayed, senders, flow } = await startFlowAroundVictim(clients, victimId);

      log(`kill -9 ${victimId} (${moved.length} clients) with broadcasts flowing from ${senders.length} replicas`);
      const backAt = new Map<PooledClient, number>();
      const killedAt = performance.now();
      recordNextWelcome(moved, killedAt, backAt);
      const [markDown, { signalledAt }] = await Promise.all([
        proxyMarkDown(topology, victim.address, killedAt),
        topology.kill(victimId, 'SIGKILL'),
      ]);
      // Bounds run from the death, not from the start of the kill command:
      // on Docker `docker kill` itself takes 0.1-0.6 s (a CLI call, more on
      // a loaded host), which is neither the proxy's nor the clients' doing.
      const killCommandMs = Math.max(0, Math.round(signalledAt - killedAt));
      let reconnectMs = -1;
      try {
        await waitFor(() => moved.every((c) => c.socket.connected && c.welcomes > 1 && c.replica !== victimId), {
          what: `the ${moved.length} clients of ${victimId} to reconnect to survivors`,
          timeoutMs: RECONNECT_TIMEOUT_MS,
          intervalMs: 20,
        });
        reconnectMs = Math.max(0, Math.max(0, ...backAt.values()) - killCommandMs);
      } catch (error) {
        if (!(error instanceof WaitTimeoutError)) throw error;
      }
      const flowProbes = await flow.stop();
      const stranded = moved.filter((c) => !c.socket.connected || c.replica === victimId).length;

      // After recovery every client, moved or not, gets every broadcast exactly once.
      const after = [...byReplica(clients.filter((c) => c.socket.connected)).values()].map((group) => group[0]!);
      const report = await collectDeliveries({ probes: await sendProbes(after, 2), recipients: clients });
      // That round was the fence: what the flow's recipients lack now is lost, not late.
      const accepted = acceptedBetween(flowProbes, 0);
      const stayedTally = tallyDeliveries(accepted, stayed);
      const movedTally = tallyDeliveries(accepted, moved);

      const times = [...backAt.values()].map((ms) => Math.max(0, ms - killCommandMs)).sort((a, b) => a - b);
      check.equal(stranded, 0, `clients of ${victimId} not back on a survivor`);
      // Nginx has no active health checks: a reconnection that reaches it
      // before it has dropped the dead address waits out its connect timeout
      // before trying the next server (a dead container answers nothing).
      const connectWaitMs = topology.options.proxy === 'nginx' ? await nginxConnectTimeoutMs() : 0;
      const expectedMs = RECONNECT_EXPECTED_MS + connectWaitMs;
      check.expect(
        reconnectMs >= 0 && reconnectMs <= expectedMs,
        `clients back after ${reconnectMs} ms (expected ≤ ${expectedMs} ms${connectWaitMs ? `: ${RECONNECT_EXPECTED_MS} + Nginx's proxy_connect_timeout` : ''}; -1 = not all)`,
      );
      check.equal(stayed.flatMap((c) => c.disconnects).length, 0, 'disconnects of clients on surviving replicas');
      check.equal(report.lost, 0, 'lost deliveries after recovery');
      check.equal(report.duplicated, 0, 'duplicated deliveries after recovery');
      check.equal(stayedTally.lost, 0, 'broadcasts lost by clients of surviving replicas during the failover');
      check.equal(stayedTally.duplicated + movedTally.duplicated, 0, 'broadcasts duplicated during the failover');
      const metrics: Record<string, number | string> = {
        killed: victimId,
        movedClients: moved.length,
        otherClients: stayed.length,
        reconnectMs,
        reconnectP50Ms: times[Math.floor(times.length / 2)] ?? -1,
        stranded,
        flowBroadcasts: accepted.length,
        missedByMoved: movedTally.lost,
        lostByOthers: stayedTally.lost,
        afterExpected: report.expected,
        afterLost: report.lost,
        afterDuplicated: report.duplicated,
      };
      if (markDown !== undefined) {
        const timing = await repositoryCheckTiming();
        const bound = markDownBoundMs(timing);
        const markDownMs = Math.max(0, markDown.ms - killCommandMs);
        metrics.killCommandMs = killCommandMs;
        metrics.markDownMs = markDownMs;
        metrics.markDownPollMs = markDown.pollMs;
        metrics.checkInterMs = timing.interMs;
        metrics.markDownBoundMs = bound;
        check.expect(
          markDownMs <= bound + MARK_DOWN_SLACK_MS + markDown.pollMs,
          `the proxy marked ${victimId} down ${markDownMs} ms after the kill took effect; its checks bound that at ${bound} ms (inter + (fall-1) × fastinter + fall × connect timeout) + ${MARK_DOWN_SLACK_MS} ms slack + the ${markDown.pollMs} ms its state took to read`,
        );
      }

      log(`restarting ${victimId}`);
      const startedAt = performance.now();
      await topology.start(victimId);
      restarted = true;
      metrics.restartMs = Math.round(performance.now() - startedAt);
      return { ok: check.ok, failures: check.failures, metrics };
    } finally {
      closeClients(clients);
      // Leave N replicas for the next scenario, whatever happened above.
      if (!restarted && !topology.endpoints().replicas.some((r) => r.id === victimId)) await topology.start(victimId);
    }
  },
};
