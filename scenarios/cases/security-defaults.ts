import { ConnectError, openClient } from '../../client/connect.ts';
import { type HandshakeAnswer, pollingHandshake, websocketHandshake } from '../lib/handshake-probe.ts';
import { type HttpGet, httpGetOf } from '../lib/http-get.ts';
import { Checks, type Scenario, skipped } from '../scenario.ts';

const EVIL = 'http://evil.example';

/** Anonymous GET of the proxy's stats page: its status, or 0 when nothing answered. */
async function anonymousStatus(statsUrl: string, get: HttpGet): Promise<number> {
  const url = new URL(statsUrl);
  url.username = '';
  url.password = '';
  try {
    return (await get(url.toString(), { timeoutMs: 3000 })).status;
  } catch {
    return 0;
  }
}

export const securityDefaults: Scenario = {
  name: 'security-defaults',
  proves:
    'tried from outside: a browser-style handshake from another origin is refused on polling and WebSocket at every replica and through the proxy, while same-origin pages and non-browser clients get in; the proxy stats page refuses anonymous requests',
  async run({ topology }) {
    const env = topology.options.replicaEnv ?? {};
    if (env.CORS_ORIGINS?.split(',').some((origin) => origin.trim() === '*')) {
      return skipped('CORS_ORIGINS=* lets every origin in (an explicit opt-out)');
    }
    const { proxyUrl, replicas, statsUrl, replicasReachable = true } = topology.endpoints();
    // Where the runner cannot open sockets to replicas (Swarm's overlay), the proxy is the way in.
    const direct = replicasReachable ? replicas.map((r) => ({ name: r.id, url: r.url })) : [];
    const targets = [...direct, { name: 'proxy', url: proxyUrl }];
    const check = new Checks();
    let refused = 0;
    let admitted = 0;
    const expectStatus = (answer: HandshakeAnswer, expected: number, what: string) => {
      check.expect(answer.status === expected, `${what}: HTTP ${answer.status} ${answer.body.slice(0, 120)}, expected ${expected}`);
      if (answer.status === expected) {
        if (expected === 200 || expected === 101) admitted += 1;
        else refused += 1;
      }
    };

    for (const target of targets) {
      const sameOrigin = new URL(target.url).origin;
      expectStatus(await pollingHandshake(target.url, { origin: EVIL }), 403, `${target.name} polling from ${EVIL}`);
      expectStatus(await websocketHandshake(target.url, { origin: EVIL }), 403, `${target.name} WebSocket from ${EVIL}`);
      expectStatus(await pollingHandshake(target.url, { origin: 'null' }), 403, `${target.name} polling from the opaque origin "null"`);
      expectStatus(await pollingHandshake(target.url, { origin: sameOrigin }), 200, `${target.name} polling from its own origin`);
      expectStatus(await websocketHandshake(target.url, { origin: sameOrigin }), 101, `${target.name} WebSocket from its own origin`);
      expectStatus(await pollingHandshake(target.url, {}), 200, `${target.name} polling without Origin (not a browser)`);
      expectStatus(await websocketHandshake(target.url, {}), 101, `${target.name} WebSocket without Origin (not a browser)`);
    }

    // The real client library, as a page on another origin would drive it, through the proxy.
    let clientRefusals = 0;
    for (const transport of ['polling', 'websocket'] as const) {
      try {
        const { socket } = await openClient(proxyUrl, { transports: [transport], reconnection: false, extraHeaders: { origin: EVIL } }, 5000);
        socket.disconnect();
        check.expect(false, `socket.io-client over ${transport} from ${EVIL} was let in through the proxy`);
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        clientRefusals += 1;
      }
    }

    let statsAnonymous: number | string = 'not exposed';
    if (statsUrl) {
      statsAnonymous = await anonymousStatus(statsUrl, httpGetOf(topology));
      check.equal(statsAnonymous, 401, 'proxy stats page without credentials');
    }
    return {
      ok: check.ok,
      failures: check.failures,
      metrics: {
        targets: targets.length,
        handshakesRefused: refused,
        handshakesAdmitted: admitted,
        clientRefusals,
        statsAnonymous,
      },
    };
  },
};
