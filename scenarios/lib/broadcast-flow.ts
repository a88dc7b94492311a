import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { broadcast } from '../../client/api.ts';
import { byReplica, type PooledClient } from './client-pool.ts';
import type { SentProbe } from './deliveries.ts';
import { waitFor } from './wait-for.ts';

/** A probe the flow sent, and whether the replica accepted it (its ack said ok). */
export interface FlowProbe extends SentProbe {
  accepted: boolean;
}

export interface BroadcastFlow {
  /** Every probe sent so far, accepted or not. */
  readonly sent: readonly FlowProbe[];
  /** Stop sending; resolves with every probe sent once the last ack is in. */
  stop(): Promise<FlowProbe[]>;
}

export interface FlowOptions {
  /** Pause between rounds (pacing, not a readiness wait). */
  intervalMs?: number;
  /** Hard bound on rounds, so a forgotten flow ends on its own. */
  maxRounds?: number;
}

/**
 * Broadcasts flowing in the background, as traffic does while a fault
 * strikes: every `intervalMs`, each of `senders()` that is connected sends one
 * probe (senders in parallel, each waiting for its ack). `senders` is asked
 * every round, so a scenario can move the flow off a replica it is about to
 * break.
 */
export function startBroadcastFlow(
  senders: () => readonly PooledClient[],
  { intervalMs = 50, maxRounds = 1000 }: FlowOptions = {},
): BroadcastFlow {
  const sent: FlowProbe[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let round = 0; round < maxRounds && !stopped; round++) {
      await Promise.all(
        senders()
          .filter((sender) => sender.socket.connected)
          .map(async (sender) => {
            const probe: FlowProbe = { key: randomUUID(), sender, sentAt: performance.now(), accepted: false };
            sent.push(probe);
            try {
              await broadcast(sender.socket, { probe: probe.key });
              probe.accepted = true;
            } catch {
              // Not accepted (no ack in time, or refused): not counted as expected.
            }
          }),
      );
      if (!stopped) await sleep(intervalMs);
    }
  })();
  return {
    sent,
    async stop() {
      stopped = true;
      await loop;
      return [...sent];
    },
  };
}

export interface Tally {
  probes: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
}

/**
 * Count, without waiting, what `recipients` hold of `probes`: call it after a
 * fence (collectDeliveries of a later round) so that whatever is missing now
 * is lost, not late. Pure over the clients' counters.
 */
export function tallyDeliveries(
  probes: readonly Pick<SentProbe, 'key'>[],
  recipients: readonly Pick<PooledClient, 'received'>[],
): Tally {
  let delivered = 0;
  let duplicated = 0;
  for (const client of recipients) {
    for (const probe of probes) {
      const count = client.received.get(probe.key) ?? 0;
      if (count > 0) delivered += 1;
      if (count > 1) duplicated += count - 1;
    }
  }
  const expected = probes.length * recipients.length;
  return { probes: probes.length, expected, delivered, lost: expected - delivered, duplicated };
}

/** The accepted probes sent in [from, to) (performance.now() times). */
export function acceptedBetween(probes: readonly FlowProbe[], from: number, to = Number.POSITIVE_INFINITY): FlowProbe[] {
  return probes.filter((probe) => probe.accepted && probe.sentAt >= from && probe.sentAt < to);
}

export interface FlowAroundVictim {
  /** Clients of the victim replica: the ones a fault will move. */
  moved: PooledClient[];
  stayed: PooledClient[];
  /** One sender on every other replica, so the flow itself survives the fault. */
  senders: PooledClient[];
  flow: BroadcastFlow;
}

/** Split clients around `victimId` and start a flow from the others; resolves once a first probe was accepted. */
export async function startFlowAroundVictim(
  clients: readonly PooledClient[],
  victimId: string,
  options: FlowOptions = { intervalMs: 50 },
): Promise<FlowAroundVictim> {
  const moved = clients.filter((c) => c.replica === victimId);
  const stayed = clients.filter((c) => c.replica !== victimId);
  const senders = [...byReplica(stayed).values()].map((group) => group[0]!);
  const flow = startBroadcastFlow(() => senders, options);
  await waitFor(() => flow.sent.some((p) => p.accepted), { what: 'the broadcast flow to start', timeoutMs: 5000 });
  return { moved, stayed, senders, flow };
}
