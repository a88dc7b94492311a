import type { Agent } from 'node:http';
import WebSocket from 'ws';
import { agentFor, requestFor, tlsOptionsFor } from '../../client/tls-trust.ts';
import type { Frame, HostileCase } from './malformed-packets.ts';
import { cookieHeader } from './raw-polling.ts';

/**
 * Plays malformed cases (scenarios/lib/malformed-packets.ts) against one
 * base URL over a raw WebSocket or raw HTTP long-polling, the way a hostile
 * client would: no socket.io-client in between to fix anything up.
 */

export interface HostileOutcome {
  /**
   * How the target answered the last thing sent: `http <status>` (polling),
   * `ws refused <status>` (upgrade refused), `ws close <code>` (the close
   * code of a WebSocket that had opened), or `no answer` when the
   * connection failed or timed out (what a crashed replica would cause).
   */
  answer: string;
  /** Packets put on the wire (frames, or the query when the query is the attack). */
  packets: number;
  /** For `no answer`: what went wrong. */
  error?: string;
}

export interface PlayOptions {
  /** Keep-alive agent for the polling requests to this target. */
  agent: Agent;
  /** Bound on each request / on a WebSocket's whole life. */
  timeoutMs?: number;
}

const NO_ANSWER = 'no answer';

interface HttpAnswer {
  status: number;
  body: string;
  setCookie: string[];
}

function send(
  url: string,
  method: 'GET' | 'POST',
  { agent, timeoutMs, body, cookie }: { agent: Agent; timeoutMs: number; body?: Frame; cookie?: string },
): Promise<HttpAnswer> {
  let payload: Buffer | undefined;
  let contentType = 'text/plain;charset=UTF-8';
  if (typeof body === 'string') payload = Buffer.from(body);
  else if (body instanceof Uint8Array) {
    payload = Buffer.from(body);
    contentType = 'application/octet-stream';
  } else if (body) payload = Buffer.from(body.rawText);
  return new Promise((resolve, reject) => {
    const req = requestFor(
      url,
      {
        method,
        agent,
        timeout: timeoutMs,
        headers: {
          ...(payload ? { 'content-type': contentType, 'content-length': String(payload.length) } : {}),
          ...(cookie ? { cookie } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), setCookie: res.headers['set-cookie'] ?? [] }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function openSid(answer: HttpAnswer): string | undefined {
  if (answer.status !== 200 || !answer.body.startsWith('0{')) return undefined;
  try {
    const sid = (JSON.parse(answer.body.slice(1)) as { sid?: unknown }).sid;
    return typeof sid === 'string' ? sid : undefined;
  } catch {
    return undefined;
  }
}

async function playPolling(base: string, hostile: HostileCase, agent: Agent, timeoutMs: number): Promise<HostileOutcome> {
  const endpoint = (query: string) => `${base}/socket.io/?${query}`;
  const sessionQuery = (sid: string) => `EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  let cookie: string | undefined;
  let sid: string | undefined;
  // Sessions this case opened, closed at the end so none lingers until its ping timeout.
  const opened = new Set<string>();
  const options = (body?: Frame) => ({ agent, timeoutMs, ...(body === undefined ? {} : { body }), ...(cookie ? { cookie } : {}) });
  let packets = 0;
  let answer = NO_ANSWER;
  try {
    if (hostile.handshake) {
      const handshake = await send(endpoint('EIO=4&transport=polling'), 'GET', options());
      cookie = cookieHeader(handshake.setCookie) ?? cookie;
      sid = openSid(handshake);
      if (sid === undefined) return { answer: `http ${handshake.status}`, packets };
      opened.add(sid);
      if (hostile.connect) await send(endpoint(sessionQuery(sid)), 'POST', options('40'));
    }
    const query = hostile.query.replaceAll('{sid}', encodeURIComponent(sid ?? ''));
    if (hostile.frames.length === 0) {
      packets += 1;
      const reply = await send(endpoint(query), 'GET', options());
      const accidental = openSid(reply);
      if (accidental) opened.add(accidental);
      answer = `http ${reply.status}`;
    }
    for (const frame of hostile.frames) {
      packets += 1;
      answer = `http ${(await send(endpoint(query), 'POST', options(frame))).status}`;
    }
    if (!hostile.handshake && hostile.frames.length > 0) packets += 1;
    return { answer, packets };
  } catch (error) {
    return { answer: NO_ANSWER, packets, error: error instanceof Error ? error.message : String(error) };
  } finally {
    for (const open of opened) await send(endpoint(sessionQuery(open)), 'POST', options('1')).catch(() => undefined);
  }
}

function playWebSocket(base: string, hostile: HostileCase, timeoutMs: number): Promise<HostileOutcome> {
  return new Promise((resolve) => {
    let packets = hostile.handshake ? 0 : 1;
    let settled = false;
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/socket.io/?${hostile.query.replaceAll('{sid}', '')}`, {
      handshakeTimeout: timeoutMs,
      ...tlsOptionsFor(base),
    });
    const finish = (answer: string, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      ws.terminate();
      resolve({ answer, packets, ...(error === undefined ? {} : { error }) });
    };
    let opened = false;
    const bound = setTimeout(() => finish(NO_ANSWER, `no close within ${timeoutMs} ms`), timeoutMs);
    // Before the upgrade, an error means nobody answered; after it, the replica
    // answered with something ws rejects (a broken frame), which is an answer.
    ws.on('error', (error) => (opened ? finish('ws error after open') : finish(NO_ANSWER, error.message)));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      finish(`ws refused ${res.statusCode ?? 0}`);
    });
    ws.on('close', (code) => finish(`ws close ${code}`));
    ws.on('open', () => {
      opened = true;
      if (hostile.connect) ws.send('40');
      for (const frame of hostile.frames) {
        if (ws.readyState !== WebSocket.OPEN) break;
        packets += 1;
        if (typeof frame === 'string') ws.send(frame);
        else if (frame instanceof Uint8Array) ws.send(frame, { binary: true });
        else ws.send(Buffer.from(frame.rawText), { binary: false });
      }
      // The replica reads the frames before the close frame (one ordered stream).
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    });
  });
}

/** Play one case against `base` (e.g. http://127.0.1.1:3000); never throws. */
export function playHostileCase(base: string, hostile: HostileCase, { agent, timeoutMs = 5000 }: PlayOptions): Promise<HostileOutcome> {
  return hostile.transport === 'polling' ? playPolling(base, hostile, agent, timeoutMs) : playWebSocket(base, hostile, timeoutMs);
}

export interface HostileTarget {
  name: string;
  url: string;
}

export interface HostileRunReport {
  cases: number;
  packets: number;
  /** Packets per category. */
  byCategory: Record<string, number>;
  /** Cases per target name. */
  byTarget: Record<string, number>;
  /** Outcomes (`http 400`, `ws close 1005`, …) with their counts. */
  answers: Record<string, number>;
  noAnswer: number;
  /** A few of the cases left without an answer: where, what, and the error. */
  unanswered: string[];
}

const count = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

/**
 * Play every case, each against the target `assign` picks, at most
 * `concurrency` at a time. Bounded: each case ends within its timeout.
 */
export async function playHostileCases(
  cases: readonly HostileCase[],
  targets: readonly HostileTarget[],
  { assign, concurrency = 32, timeoutMs = 5000 }: { assign: (hostile: HostileCase) => number; concurrency?: number; timeoutMs?: number },
): Promise<HostileRunReport> {
  const agents = targets.map((target) => agentFor(target.url, { keepAlive: true, maxSockets: concurrency }));
  const report: HostileRunReport = { cases: 0, packets: 0, byCategory: {}, byTarget: {}, answers: {}, noAnswer: 0, unanswered: [] };
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const hostile = cases[next++]!;
      const slot = assign(hostile) % targets.length;
      const target = targets[slot]!;
      const outcome = await playHostileCase(target.url, hostile, { agent: agents[slot]!, timeoutMs });
      report.cases += 1;
      report.packets += outcome.packets;
      count(report.byCategory, hostile.category, outcome.packets);
      count(report.byTarget, target.name);
      count(report.answers, outcome.answer);
      if (outcome.answer === NO_ANSWER) {
        report.noAnswer += 1;
        if (report.unanswered.length < 10) {
          report.unanswered.push(`#${hostile.index} ${hostile.category}/${hostile.transport} at ${target.name}: ${outcome.error ?? '?'}`);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, cases.length) }, worker));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return report;
}
