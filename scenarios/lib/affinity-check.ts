import { setTimeout as sleep } from 'node:timers/promises';
import { whoami } from '../../client/api.ts';
import { type ClientTransport, openClient, type WskSocket } from '../../client/connect.ts';
import { clientSourceAddress } from './client-address.ts';
import { probePollingSession } from './raw-polling.ts';

export interface AffinityOptions {
  clients: number;
  /** whoami rounds per client, spaced by `gapMs` so polling clients upgrade in between. */
  rounds: number;
  gapMs: number;
  /** Raw HTTP polling sessions (curl-like), each `rawRounds` POST+GET rounds. */
  rawSessions: number;
  rawRounds: number;
  /** Send the affinity cookie back on raw requests. */
  keepCookie: boolean;
  connectTimeoutMs: number;
}

export interface AffinityCounts {
  clients: number;
  pollingOnlyClients: number;
  connectFailures: number;
  whoamiChecks: number;
  /** whoami answered by another replica than the one that welcomed the client. */
  replicaMismatches: number;
  whoamiFailures: number;
  /** Transport errors seen by socket.io clients (HTTP 400 "Session ID unknown" among them). */
  transportErrors: number;
  disconnects: number;
  /** Replica → clients welcomed there. */
  distribution: Record<string, number>;
  rawSessions: number;
  rawRequests: number;
  /** HTTP 400 "Session ID unknown" answers to raw polling requests. */
  rawSessionUnknown: number;
  rawOtherErrors: number;
  /** Raw sessions whose whoami answers came from more than one replica. */
  rawSplitSessions: number;
  /** Raw sessions whose handshake set an affinity cookie. */
  rawCookiesSet: number;
  /** Raw sessions whose affinity cookie carried `Secure` (what TLS must give it). */
  rawCookiesSecure: number;
}

/**
 * Half the clients use Socket.IO's default transports (polling, then the
 * WebSocket upgrade), half polling only — the case that needs affinity on
 * every request. Failures are counted, never thrown, so the same function
 * measures the healthy stack and the negative control.
 */
export async function measureAffinity(url: string, options: AffinityOptions): Promise<AffinityCounts> {
  const counts: AffinityCounts = {
    clients: options.clients,
    pollingOnlyClients: 0,
    connectFailures: 0,
    whoamiChecks: 0,
    replicaMismatches: 0,
    whoamiFailures: 0,
    transportErrors: 0,
    disconnects: 0,
    distribution: {},
    rawSessions: options.rawSessions,
    rawRequests: 0,
    rawSessionUnknown: 0,
    rawOtherErrors: 0,
    rawSplitSessions: 0,
    rawCookiesSet: 0,
    rawCookiesSecure: 0,
  };
  const sockets: WskSocket[] = [];
  // Our own disconnect() at the end must not count as a failure.
  let closing = false;
  try {
    const opened = await Promise.allSettled(
      Array.from({ length: options.clients }, async (_, index) => {
        const transports: ClientTransport[] | undefined = index % 2 === 1 ? ['polling'] : undefined;
        if (transports) counts.pollingOnlyClients += 1;
        const localAddress = clientSourceAddress(index, url);
        const { socket, welcome } = await openClient(
          url,
          { localAddress, ...(transports ? { transports } : {}) },
          options.connectTimeoutMs,
        );
        sockets.push(socket);
        socket.io.on('error', () => {
          if (!closing) counts.transportErrors += 1;
        });
        socket.on('disconnect', () => {
          if (!closing) counts.disconnects += 1;
        });
        counts.distribution[welcome.replica] = (counts.distribution[welcome.replica] ?? 0) + 1;
        return { socket, replica: welcome.replica };
      }),
    );
    const clients = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    counts.connectFailures = opened.length - clients.length;

    for (let round = 0; round < options.rounds; round++) {
      if (round > 0) await sleep(options.gapMs);
      await Promise.all(
        clients.map(async ({ socket, replica }) => {
          counts.whoamiChecks += 1;
          try {
            const me = await whoami(socket, 3000);
            if (me.replica !== replica) counts.replicaMismatches += 1;
          } catch {
            counts.whoamiFailures += 1;
          }
        }),
      );
    }

    const raw = await Promise.all(
      Array.from({ length: options.rawSessions }, (_, i) =>
        probePollingSession(url, {
          keepCookie: options.keepCookie,
          rounds: options.rawRounds,
          localAddress: clientSourceAddress(options.clients + i, url),
        }),
      ),
    );
    for (const session of raw) {
      counts.rawRequests += session.requests;
      counts.rawSessionUnknown += session.sessionUnknown;
      counts.rawOtherErrors += session.otherErrors;
      if (session.replicas.length > 1) counts.rawSplitSessions += 1;
      if (session.cookie) counts.rawCookiesSet += 1;
      if (session.cookie && session.cookieSecure) counts.rawCookiesSecure += 1;
    }
  } finally {
    closing = true;
    for (const socket of sockets) socket.disconnect();
  }
  return counts;
}
