import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HAPROXY_OPTIONAL_ENV_DEFAULTS } from '../local/haproxy.ts';
import { NGINX_DEFAULT_PROXY_TIMEOUT } from '../local/nginx.ts';
import { REPO_ROOT } from './repo-root.ts';

/**
 * The proxy timeouts that cut a connection which shows no traffic for that
 * long, in ms. An idle Socket.IO client's only traffic is the heartbeat: a
 * server ping every pingInterval (a long-polling GET is held that long, then
 * answered with the ping) and the client's pong. So the invariant of the
 * stack is: pingInterval below every one of these, with pingTimeout as the
 * margin (a late ping is only declared dead after pingInterval + pingTimeout).
 */
export interface IdleCutters {
  /** HAProxy `timeout client`: client side silent that long (a held poll, a quiet client). */
  haproxyClientMs: number;
  /** HAProxy `timeout server`: a held long-polling GET not answered that long. */
  haproxyServerMs: number;
  /** HAProxy `timeout tunnel`: an upgraded WebSocket silent both ways that long. */
  haproxyTunnelMs: number;
  /** Nginx proxy_read_timeout / proxy_send_timeout (one value in the template). */
  nginxProxyMs: number;
}

export interface Heartbeat {
  pingIntervalMs: number;
  pingTimeoutMs: number;
}

const UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * "60s", "1h", "2500ms" → ms. A bare number is ms for HAProxy and seconds for
 * Nginx (`bare`), as each documents. Throws on anything else.
 */
export function parseDurationMs(text: string, bare: 'ms' | 's'): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: "${text}"`);
  return Number(match[1]) * UNITS_MS[match[2] ?? bare]!;
}

/** Every way `heartbeat` violates the invariant against `cutters`; empty when it holds. */
export function heartbeatProblems(cutters: IdleCutters, heartbeat: Heartbeat): string[] {
  const worstGap = heartbeat.pingIntervalMs + heartbeat.pingTimeoutMs;
  const problems: string[] = [];
  for (const [name, limit] of Object.entries(cutters) as Array<[keyof IdleCutters, number]>) {
    if (worstGap >= limit) {
      problems.push(
        `${name} ${limit} ms <= pingInterval + pingTimeout (${heartbeat.pingIntervalMs} + ${heartbeat.pingTimeoutMs} ms): idle clients can be cut`,
      );
    }
  }
  return problems;
}

/** The timeouts of the deployable files as shipped: haproxy.cfg's "${WSK_TIMEOUT_*-default}" and Nginx's production value. */
export async function productionIdleCutters(
  haproxyConfigPath = join(REPO_ROOT, 'haproxy/haproxy.cfg'),
): Promise<IdleCutters & { haproxyHttpKeepAliveMs: number }> {
  const config = await readFile(haproxyConfigPath, 'utf8');
  const fromConfig = (directive: string, variable: keyof typeof HAPROXY_OPTIONAL_ENV_DEFAULTS): number => {
    const line = new RegExp(`^\\s*timeout ${directive} "\\$\\{${variable}-([^}]+)\\}"\\s*$`, 'm').exec(config);
    if (!line) throw new Error(`${haproxyConfigPath}: no \`timeout ${directive} "\${${variable}-<default>}"\` line`);
    return parseDurationMs(line[1]!, 'ms');
  };
  return {
    haproxyClientMs: fromConfig('client', 'WSK_TIMEOUT_CLIENT'),
    haproxyServerMs: fromConfig('server', 'WSK_TIMEOUT_SERVER'),
    haproxyTunnelMs: fromConfig('tunnel', 'WSK_TIMEOUT_TUNNEL'),
    haproxyHttpKeepAliveMs: fromConfig('http-keep-alive', 'WSK_TIMEOUT_HTTP_KEEP_ALIVE'),
    nginxProxyMs: parseDurationMs(NGINX_DEFAULT_PROXY_TIMEOUT, 's'),
  };
}
