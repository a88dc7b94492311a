import { openClient, type WskSocket } from '../../client/connect.ts';
import { DEFAULTS } from '../../server/config.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { type HostileTarget, playHostileCases } from '../lib/hostile-client.ts';
import { type HttpGet, httpGetOf } from '../lib/http-get.ts';
import { generateMalformedCases, MALFORMED_CATEGORIES } from '../lib/malformed-packets.ts';
import { checkVersionRefusals, UNSUPPORTED_VERSION_ANSWERS } from '../lib/version-refusals.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario } from '../scenario.ts';
import type { ReplicaEndpoint } from '../topology.ts';

/** Same seed, same packets: a failure can be replayed. WSK_HOSTILE_SEED picks another set. */
export const DEFAULT_HOSTILE_SEED = 20240604;
const CASES = 1200;
const CONCURRENCY = 48;
const WAIT_MS = 10_000;

async function healthz(url: string, get: HttpGet): Promise<number> {
  try {
    return (await get(`${url}/healthz`, { timeoutMs: 2000 })).status;
  } catch {
    return 0;
  }
}

/**
 * One client per transport connects straight to `replica` and sends a
 * single message one byte over MAX_HTTP_BUFFER_SIZE. Resolves with how many
 * of them were disconnected for it.
 */
async function sendOversized(replica: Pick<ReplicaEndpoint, 'id' | 'url'>, limit: number): Promise<number> {
  const offenders: WskSocket[] = [];
  try {
    for (const transport of ['websocket', 'polling'] as const) {
      offenders.push((await openClient(replica.url, { transports: [transport], reconnection: false }, WAIT_MS)).socket);
    }
    const huge = 'x'.repeat(limit + 1);
    // No ack will come: the replica drops the connection instead of reading the message.
    for (const socket of offenders) socket.emit('broadcast', huge, () => undefined);
    await waitFor(() => offenders.every((socket) => !socket.connected), {
      what: `both oversized senders on ${replica.id} to be disconnected`,
      timeoutMs: WAIT_MS,
    }).catch((error: unknown) => {
      if (!(error instanceof WaitTimeoutError)) throw error;
    });
    return offenders.filter((socket) => !socket.connected).length;
  } finally {
    for (const socket of offenders) socket.disconnect();
  }
}

export const hostileInput: Scenario = {
  name: 'hostile-input',
  proves:
    'a missing, unknown or duplicated EIO gets engine.io\'s exact 400 code-5 answer on both transports, at every replica and through the proxy; oversized messages cost only their sender its connection; 1,200 generated malformed Engine.IO/Socket.IO packets over raw WebSocket and polling, at every replica and through the proxy, crash nothing: every replica stays healthy and broadcasts reach every client exactly once',
  async run({ topology, clients: count, log }) {
    const { proxyUrl, replicas, replicasReachable = true } = topology.endpoints();
    // Sockets straight to a replica need a route to it; Swarm's overlay has
    // none from the runner, so there everything goes through the proxy.
    const directReplicas = replicasReachable ? replicas : [];
    const seed = Number(process.env.WSK_HOSTILE_SEED ?? DEFAULT_HOSTILE_SEED);
    const limit = Number(topology.options.replicaEnv?.MAX_HTTP_BUFFER_SIZE ?? DEFAULTS.MAX_HTTP_BUFFER_SIZE);
    const check = new Checks();
    const before = replicas.map((replica) => replica.id);

    // Bystanders: two straight on each replica (WebSocket, polling), the rest through the proxy.
    const direct: PooledClient[] = [];
    let viaProxy: PooledClient[] = [];
    try {
      for (const [i, replica] of directReplicas.entries()) {
        direct.push(
          ...(await openClients(replica.url, 2, (index) => ({ transports: index % 2 === 0 ? ['websocket'] : ['polling'] }), {
            firstIndex: 1000 + 2 * i,
          })),
        );
      }
      viaProxy = await openClients(proxyUrl, Math.max(replicas.length * 2, Math.min(count, replicas.length * 4)));
      const everyone = [...direct, ...viaProxy];

      // 1. Over maxHttpBufferSize: the sender is cut off, no one else.
      let oversizedDisconnected = 0;
      const oversizedAt: Pick<ReplicaEndpoint, 'id' | 'url'>[] = replicasReachable ? directReplicas : [{ id: 'proxy', url: proxyUrl }];
      for (const replica of oversizedAt) oversizedDisconnected += await sendOversized(replica, limit);
      check.equal(oversizedDisconnected, oversizedAt.length * 2, 'oversized senders disconnected');

      const targets: HostileTarget[] = [...directReplicas.map((r) => ({ name: r.id, url: r.url })), { name: 'proxy', url: proxyUrl }];

      // 2. Wrong protocol versions, answered exactly as the protocol requires (the malformed set only asks for *an* answer).
      const versions = await checkVersionRefusals(targets);
      for (const line of versions.mismatches) log(`  version refusal: ${line}`);
      check.expect(
        versions.mismatches.length === 0,
        `${versions.mismatches.length} of ${versions.checked} bad-EIO handshakes not answered ${UNSUPPORTED_VERSION_ANSWERS.polling.status} ${UNSUPPORTED_VERSION_ANSWERS.polling.body} (polling) / ${UNSUPPORTED_VERSION_ANSWERS.websocket.body} (WebSocket): ${versions.mismatches.slice(0, 3).join('; ')}`,
      );

      // 3. The malformed set: blocks of every category on both transports, block i to target i mod n.
      const cases = generateMalformedCases({ seed, count: CASES });
      const block = MALFORMED_CATEGORIES.length * 2;
      const started = performance.now();
      const report = await playHostileCases(cases, targets, { assign: (c) => Math.floor(c.index / block), concurrency: CONCURRENCY });
      const malformedMs = Math.round(performance.now() - started);
      log(`malformed: ${report.cases} cases, ${report.packets} packets in ${malformedMs} ms; answers ${JSON.stringify(report.answers)}`);
      for (const line of report.unanswered) log(`  unanswered: ${line}`);

      // 4. Everyone still up, every bystander still connected, broadcast still exactly-once everywhere.
      const after = topology.endpoints().replicas.map((replica) => replica.id);
      const statuses = await Promise.all(replicas.map((replica) => healthz(replica.url, httpGetOf(topology))));
      const healthy = statuses.filter((status) => status === 200).length;
      const crashes = before.filter((id) => !after.includes(id)).length + (replicas.length - healthy);
      const bystanderDisconnects = everyone.flatMap((client) => client.disconnects).length;
      const groups = byReplica(direct.length > 0 ? direct : viaProxy);
      const senders = [...groups.values()].map((group) => group[0]!);
      const probes = await sendProbes(senders, 2);
      const delivery = await collectDeliveries({ probes, recipients: everyone });

      check.equal(crashes, 0, 'replica crashes');
      check.equal(healthy, replicas.length, 'replicas answering /healthz 200');
      check.equal(bystanderDisconnects, 0, 'bystanders disconnected');
      check.expect(report.cases === CASES, `cases played: ${report.cases} of ${CASES}`);
      for (const target of targets) {
        check.expect((report.byTarget[target.name] ?? 0) > 0, `no malformed case reached ${target.name}`);
      }
      check.equal(report.noAnswer, 0, 'malformed cases left without any answer (connection refused or timed out)');
      check.equal(delivery.lost, 0, 'broadcasts lost after the malformed run');
      check.equal(delivery.duplicated, 0, 'broadcasts duplicated after the malformed run');
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          seed,
          versionRefusals: versions.checked,
          versionMismatches: versions.mismatches.length,
          oversizedDisconnected,
          cases: report.cases,
          packets: report.packets,
          targets: targets.length,
          perCategory: MALFORMED_CATEGORIES.map((c) => `${c}:${report.byCategory[c] ?? 0}`).join(','),
          malformedMs,
          noAnswer: report.noAnswer,
          replicaCrashes: crashes,
          healthy,
          bystanders: everyone.length,
          bystanderDisconnects,
          expected: delivery.expected,
          lost: delivery.lost,
          duplicated: delivery.duplicated,
        },
      };
    } finally {
      closeClients([...direct, ...viaProxy]);
    }
  },
};
