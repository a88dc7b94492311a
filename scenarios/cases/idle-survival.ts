import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientTransport } from '../../client/connect.ts';
import { clientSourceAddress } from '../lib/client-address.ts';
import { closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { type Heartbeat, heartbeatProblems, type IdleCutters } from '../lib/idle-timeouts.ts';
import { WaitTimeoutError, waitFor } from '../lib/wait-for.ts';
import { driverFor } from '../drivers.ts';
import { Checks, type MetricValue, type Scenario, skipped } from '../scenario.ts';
import type { ProxyTimeouts, Topology } from '../topology.ts';

/**
 * Every proxy timeout that can cut an idle connection, shortened from the
 * production 60 s / 1 h / 75 s so the hold takes seconds; the heartbeat is
 * scaled down with it, keeping production's proportions (pingInterval +
 * pingTimeout below every cutter; the keep-alive timeout below pingInterval,
 * so idle keep-alive connections between pongs are closed as in production).
 */
export const SHORT_CUTTER_MS = 2500;
const SHORT_KEEP_ALIVE_MS = 400;
export const TEST_CUTTERS: IdleCutters = {
  haproxyClientMs: SHORT_CUTTER_MS,
  haproxyServerMs: SHORT_CUTTER_MS,
  haproxyTunnelMs: SHORT_CUTTER_MS,
  nginxProxyMs: SHORT_CUTTER_MS,
};
const TEST_PROXY_TIMEOUTS: ProxyTimeouts = {
  haproxy: {
    clientMs: TEST_CUTTERS.haproxyClientMs,
    serverMs: TEST_CUTTERS.haproxyServerMs,
    tunnelMs: TEST_CUTTERS.haproxyTunnelMs,
    httpKeepAliveMs: SHORT_KEEP_ALIVE_MS,
  },
  nginxProxyMs: TEST_CUTTERS.nginxProxyMs,
};
/** The stack's invariant kept: survives. */
export const SURVIVING_HEARTBEAT: Heartbeat = { pingIntervalMs: 1000, pingTimeoutMs: 1000 };
/** The negative control: pingInterval twice the cutters, so an idle connection is silent past them. */
export const CUT_HEARTBEAT: Heartbeat = { pingIntervalMs: 2 * SHORT_CUTTER_MS, pingTimeoutMs: 1000 };
/** Three times the longest cutter: each connection is idle past every one of them, repeatedly. */
const HOLD_MS = 3 * SHORT_CUTTER_MS;
const MAX_PER_TRANSPORT = 12;

type Group = 'default' | 'polling';

interface HeldClient {
  group: Group;
  pooled: PooledClient;
  /** Socket.IO and Engine.IO session ids when the hold began. */
  sid: string;
  engineId: string;
  /** Server pings this client saw during the hold. */
  pings: number;
}

interface HoldOutcome {
  clients: HeldClient[];
  heldMs: number;
}

function engineOf(client: PooledClient) {
  return client.socket.io.engine;
}

/** Open `perGroup` clients of each transport set on `topology`, wait for the upgrades, then leave them idle. */
async function holdIdle(
  topology: Topology,
  perGroup: number,
  until: { holdMs: number; stopWhen?: (clients: readonly HeldClient[]) => boolean },
): Promise<HoldOutcome> {
  const url = topology.endpoints().proxyUrl;
  const open = (transports: ClientTransport[] | undefined, firstIndex: number) =>
    openClients(
      url,
      perGroup,
      (index) => ({ localAddress: clientSourceAddress(index, url), ...(transports ? { transports } : {}) }),
      { firstIndex, concurrency: 4 },
    );
  const defaults = await open(undefined, 0);
  let polling: PooledClient[] = [];
  try {
    polling = await open(['polling'], perGroup);
    // The default transports start on polling and upgrade: hold the WebSocket, not the first poll.
    await waitFor(() => defaults.every((c) => engineOf(c).transport.name === 'websocket'), {
      what: 'every default-transport client to upgrade to WebSocket',
      timeoutMs: 10_000,
    });
  } catch (error) {
    closeClients([...defaults, ...polling]);
    throw error;
  }
  const held: HeldClient[] = [
    ...defaults.map((pooled) => ({ group: 'default' as const, pooled })),
    ...polling.map((pooled) => ({ group: 'polling' as const, pooled })),
  ].map(({ group, pooled }) => {
    const client: HeldClient = { group, pooled, sid: pooled.socket.id ?? '', engineId: engineOf(pooled).id ?? '', pings: 0 };
    engineOf(pooled).on('ping', () => client.pings++);
    return client;
  });
  const started = Date.now();
  if (until.stopWhen) {
    const stopWhen = until.stopWhen;
    await waitFor(() => stopWhen(held), { what: 'the idle clients to be cut', timeoutMs: until.holdMs, intervalMs: 50 }).catch(
      (error: unknown) => {
        if (!(error instanceof WaitTimeoutError)) throw error;
      },
    );
  } else {
    // The point of the scenario is to stay idle this long: a deliberate hold, not a wait for a condition.
    await sleep(until.holdMs);
  }
  return { clients: held, heldMs: Date.now() - started };
}

/** A topology like `parent` (kind, proxy, adapter) with the short proxy timeouts and `heartbeat` on its replicas. */
async function upShortTimeouts(parent: Topology, heartbeat: Heartbeat, label: string): Promise<Topology> {
  const parentLogDir = parent.options.logDir ?? ('logDirectory' in parent ? String(parent.logDirectory) : undefined);
  const logDir = parentLogDir ? join(parentLogDir, `idle-survival-${label}`) : undefined;
  if (logDir) await mkdir(logDir, { recursive: true });
  return (await driverFor(parent.kind)).up({
    kind: parent.kind,
    proxy: parent.options.proxy,
    replicas: 2,
    adapter: parent.options.adapter,
    ...(logDir ? { logDir } : {}),
    replicaEnv: {
      ...parent.options.replicaEnv,
      PING_INTERVAL_MS: String(heartbeat.pingIntervalMs),
      PING_TIMEOUT_MS: String(heartbeat.pingTimeoutMs),
    },
    proxyTimeouts: TEST_PROXY_TIMEOUTS,
  });
}

const dropped = (c: HeldClient) => c.pooled.disconnects.length > 0;

export const idleSurvival: Scenario = {
  name: 'idle-survival',
  proves:
    'idle clients (default transports and polling-only) outlive every proxy idle timeout (HAProxy client/server/tunnel, Nginx proxy_read/send) because pingInterval stays below them: same sid, no disconnect, still delivered to; with pingInterval above them the same clients are cut',
  async run({ topology, clients: requested, log }) {
    if (topology.kind !== 'local') {
      return skipped(
        `the ${topology.kind} driver deploys the proxy timeouts at their production values (60 s, 1 h, 75 s), which an idle hold would take minutes to outlast; proven on the local topology, which runs the same haproxy.cfg / nginx template with WSK_TIMEOUT_* / WSK_NGINX_PROXY_TIMEOUT shortened`,
      );
    }
    const perGroup = Math.max(2, Math.min(MAX_PER_TRANSPORT, Math.floor(requested / 2)));
    const check = new Checks();
    const metrics: Record<string, MetricValue> = {
      proxyTimeoutMs: SHORT_CUTTER_MS,
      pingIntervalMs: SURVIVING_HEARTBEAT.pingIntervalMs,
      clientsPerTransport: perGroup,
    };
    // The configuration invariant, as a check of its own: the surviving
    // heartbeat satisfies it, the control's violates it.
    for (const problem of heartbeatProblems(TEST_CUTTERS, SURVIVING_HEARTBEAT)) check.expect(false, `test settings: ${problem}`);
    check.expect(heartbeatProblems(TEST_CUTTERS, CUT_HEARTBEAT).length > 0, 'the control heartbeat passes the invariant check: the check is blind');

    {
      log(`holding ${2 * perGroup} idle clients ${HOLD_MS} ms behind ${topology.options.proxy} with every idle timeout at ${SHORT_CUTTER_MS} ms`);
      await using survive = await upShortTimeouts(topology, SURVIVING_HEARTBEAT, 'survive');
      const { clients, heldMs } = await holdIdle(survive, perGroup, { holdMs: HOLD_MS });
      try {
        metrics.heldMs = heldMs;
        check.expect(heldMs > SHORT_CUTTER_MS, `held ${heldMs} ms, not past the ${SHORT_CUTTER_MS} ms timeouts`);
        for (const group of ['default', 'polling'] as const) {
          const mine = clients.filter((c) => c.group === group);
          const wanted = group === 'default' ? 'websocket' : 'polling';
          const drops = mine.filter(dropped);
          metrics[`${group}Dropped`] = drops.length;
          check.equal(drops.length, 0, `${group}: idle clients disconnected (${drops.flatMap((c) => c.pooled.disconnects).join(', ')})`);
          const errors = mine.flatMap((c) => c.pooled.transportErrors);
          check.equal(errors.length, 0, `${group}: transport errors (${errors.slice(0, 3).join('; ')})`);
          const changed = mine.filter((c) => c.pooled.socket.id !== c.sid || engineOf(c.pooled).id !== c.engineId || c.pooled.welcomes !== 1);
          metrics[`${group}SidChanged`] = changed.length;
          check.equal(changed.length, 0, `${group}: clients whose session changed during the hold`);
          const onTransport = mine.filter((c) => engineOf(c.pooled).transport.name === wanted).length;
          check.equal(onTransport, mine.length, `${group}: clients still on ${wanted}`);
          // The heartbeat is what keeps them: it must have run all through the hold.
          const fewestPings = Math.min(...mine.map((c) => c.pings));
          metrics[`${group}FewestPings`] = fewestPings;
          const expectedPings = Math.floor(heldMs / SURVIVING_HEARTBEAT.pingIntervalMs) - 1;
          check.expect(fewestPings >= expectedPings, `${group}: a client saw ${fewestPings} pings in ${heldMs} ms, expected >= ${expectedPings}`);
        }
        // Still a working session, not a zombie: a broadcast reaches every one, once.
        const pooled = clients.map((c) => c.pooled);
        const report = await collectDeliveries({ probes: await sendProbes([pooled[0]!], 1), recipients: pooled });
        metrics.delivered = `${report.delivered}/${report.expected}`;
        check.equal(report.lost, 0, 'broadcast after the hold: lost deliveries');
        check.equal(report.duplicated, 0, 'broadcast after the hold: duplicated deliveries');
      } finally {
        closeClients(clients.map((c) => c.pooled));
      }
    }

    {
      log(`control: pingInterval ${CUT_HEARTBEAT.pingIntervalMs} ms, above the ${SHORT_CUTTER_MS} ms timeouts`);
      await using cut = await upShortTimeouts(topology, CUT_HEARTBEAT, 'control');
      const { clients, heldMs } = await holdIdle(cut, perGroup, {
        holdMs: HOLD_MS,
        stopWhen: (all) => all.every(dropped),
      });
      try {
        metrics.controlHeldMs = heldMs;
        for (const group of ['default', 'polling'] as const) {
          const mine = clients.filter((c) => c.group === group);
          const drops = mine.filter(dropped).length;
          metrics[`control${group === 'default' ? 'Default' : 'Polling'}Dropped`] = `${drops}/${mine.length}`;
          check.equal(drops, mine.length, `control (${group}): idle clients cut by the proxy`);
        }
        metrics.controlReasons = [...new Set(clients.flatMap((c) => c.pooled.disconnects))].sort().join(',');
      } finally {
        closeClients(clients.map((c) => c.pooled));
      }
    }
    return { ok: check.ok, failures: check.failures, metrics };
  },
};
