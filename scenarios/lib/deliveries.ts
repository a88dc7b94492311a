import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { broadcast, roomEmit } from '../../client/api.ts';
import type { PooledClient } from './client-pool.ts';
import { LatencyRecorder, type LatencySummary } from './latency.ts';
import { WaitTimeoutError, waitFor } from './wait-for.ts';

export interface SentProbe {
  key: string;
  sender: PooledClient;
  sentAt: number;
}

export type ProbeTarget = { kind: 'broadcast' } | { kind: 'room'; room: string };

/** Send `perSender` probes from each sender (sequentially per sender, senders in parallel). */
export async function sendProbes(
  senders: readonly PooledClient[],
  perSender: number,
  target: ProbeTarget = { kind: 'broadcast' },
): Promise<SentProbe[]> {
  const sent: SentProbe[] = [];
  await Promise.all(
    senders.map(async (sender) => {
      for (let i = 0; i < perSender; i++) {
        const key = randomUUID();
        const probe = { key, sender, sentAt: performance.now() };
        sent.push(probe);
        const payload = { probe: key };
        if (target.kind === 'broadcast') await broadcast(sender.socket, payload);
        else await roomEmit(sender.socket, target.room, payload);
      }
    }),
  );
  return sent;
}

export interface DeliveryReport {
  probes: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Deliveries to clients that must not have received the probe. */
  leaked: number;
  latency: LatencySummary;
}

export interface CollectOptions {
  probes: readonly SentProbe[];
  /** Clients that must receive every probe exactly once. */
  recipients: readonly PooledClient[];
  /** Clients that must receive none of them. */
  nonRecipients?: readonly PooledClient[];
  timeoutMs?: number;
}

/**
 * Wait until every recipient holds every probe (or the deadline passes), then
 * send a fence broadcast from every sender and wait for it everywhere, so late
 * duplicates and leaks to non-recipients have had their chance to arrive before
 * anything is counted. No fixed sleeps: both waits end as soon as they can.
 */
export async function collectDeliveries({
  probes,
  recipients,
  nonRecipients = [],
  timeoutMs = 10_000,
}: CollectOptions): Promise<DeliveryReport> {
  const everyoneHasAll = () => recipients.every((client) => probes.every((probe) => client.received.has(probe.key)));
  await waitFor(everyoneHasAll, { what: 'every recipient to receive every probe', timeoutMs }).catch(ignoreTimeout);

  const senders = [...new Set(probes.map((probe) => probe.sender))].filter((sender) => sender.socket.connected);
  const audience = [...recipients, ...nonRecipients].filter((client) => client.socket.connected);
  if (senders.length > 0 && audience.length > 0) {
    const fences = await sendProbes(senders, 1);
    await waitFor(() => audience.every((client) => fences.every((fence) => client.received.has(fence.key))), {
      what: 'the fence broadcast to reach every client',
      timeoutMs,
    }).catch(ignoreTimeout);
  }

  const latency = new LatencyRecorder();
  let delivered = 0;
  let duplicated = 0;
  for (const client of recipients) {
    for (const probe of probes) {
      const count = client.received.get(probe.key) ?? 0;
      if (count > 0) {
        delivered += 1;
        const at = client.firstReceivedAt.get(probe.key);
        if (at !== undefined) latency.recordMs(at - probe.sentAt);
      }
      if (count > 1) duplicated += count - 1;
    }
  }
  let leaked = 0;
  for (const client of nonRecipients) {
    for (const probe of probes) leaked += client.received.get(probe.key) ?? 0;
  }
  const expected = recipients.length * probes.length;
  return {
    probes: probes.length,
    expected,
    delivered,
    lost: expected - delivered,
    duplicated,
    leaked,
    latency: latency.summary(),
  };
}

function ignoreTimeout(error: unknown): void {
  // A missed deadline is a result (lost > 0), not a crash of the scenario.
  if (!(error instanceof WaitTimeoutError)) throw error;
}
