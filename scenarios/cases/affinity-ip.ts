import { openClient, type WskSocket } from '../../client/connect.ts';
import { clientSourceAddress } from '../lib/client-address.ts';
import { probePollingSession } from '../lib/raw-polling.ts';
import { waitFor } from '../lib/wait-for.ts';
import { Checks, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';

const HANDSHAKES_PER_ADDRESS = 3;
/** Offset so these addresses differ from the ones other scenarios used. */
const FIRST_ADDRESS_INDEX = 5000;

/** Force a transport close from the client side; Socket.IO reconnects on its own (a dropped network, as it looks). */
async function dropAndReconnect(socket: WskSocket): Promise<string> {
  const welcome = new Promise<string>((resolve) => socket.once('welcome', (w) => resolve(w.replica)));
  socket.io.engine.close();
  return waitFor(() => welcome, { what: 'the client to reconnect after a dropped connection', timeoutMs: 15_000 });
}

export const affinityIp: Scenario = {
  name: 'affinity-ip',
  proves:
    'behind Nginx ip_hash a source address (each client in its own /24) always reaches the same replica: across new handshakes, reconnections and cookie-less polling; clients spread over every replica',
  async run({ topology, clients }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    if (topology.options.proxy !== 'nginx') return skipped('ip_hash affinity is the Nginx proxy (use --proxy nginx)');
    const { proxyUrl, replicas } = topology.endpoints();
    const addresses = Array.from({ length: Math.min(clients, 40) }, (_, i) => clientSourceAddress(FIRST_ADDRESS_INDEX + i));
    const check = new Checks();
    const home = new Map<string, string>();
    let handshakes = 0;
    let movedHandshakes = 0;
    let movedReconnects = 0;
    let rawSessionUnknown = 0;
    let rawSplit = 0;

    await Promise.all(
      addresses.map(async (localAddress) => {
        // Fresh clients (new handshake, empty cookie jar) from the same address.
        for (let i = 0; i < HANDSHAKES_PER_ADDRESS; i++) {
          const { socket, welcome } = await openClient(proxyUrl, { localAddress, reconnection: i === 0 });
          handshakes += 1;
          const first = home.get(localAddress);
          if (first === undefined) home.set(localAddress, welcome.replica);
          else if (first !== welcome.replica) movedHandshakes += 1;
          try {
            // The first client also loses its connection and reconnects by itself.
            if (i === 0 && (await dropAndReconnect(socket)) !== welcome.replica) movedReconnects += 1;
          } finally {
            socket.disconnect();
          }
        }
        // Polling without sending any cookie back: only the address keeps it sticky.
        const raw = await probePollingSession(proxyUrl, { keepCookie: false, rounds: 4, localAddress });
        rawSessionUnknown += raw.sessionUnknown;
        if (raw.replicas.length > 1 || (raw.replicas[0] && raw.replicas[0] !== home.get(localAddress))) rawSplit += 1;
      }),
    );

    const distribution: Record<string, number> = {};
    for (const replica of home.values()) distribution[replica] = (distribution[replica] ?? 0) + 1;
    const idle = replicas.filter((r) => !distribution[r.id]).map((r) => r.id);
    check.equal(movedHandshakes, 0, 'new handshakes from a known address that reached another replica');
    check.equal(movedReconnects, 0, 'reconnections that reached another replica');
    check.equal(rawSessionUnknown, 0, 'cookie-less polling requests answered "Session ID unknown"');
    check.equal(rawSplit, 0, 'cookie-less polling sessions served away from their address\'s replica');
    check.expect(idle.length === 0, `replicas that received no address: ${idle.join(', ')}`);
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        addresses: addresses.length,
        handshakes,
        movedHandshakes,
        reconnects: addresses.length,
        movedReconnects,
        rawSessionUnknown,
        spread: Object.values(distribution).join('/'),
      },
    };
  },
};
