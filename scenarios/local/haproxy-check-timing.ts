import { readFile } from 'node:fs/promises';
import { HAPROXY_CONFIG_PATH } from './haproxy.ts';

/** The health-check timings of haproxy.cfg's `default-server` line, in milliseconds. */
export interface CheckTiming {
  interMs: number;
  /** Interval once a check has failed (HAProxy: defaults to inter). */
  fastinterMs: number;
  /** Interval while DOWN (HAProxy: defaults to inter). */
  downinterMs: number;
  fall: number;
  rise: number;
  /**
   * How long one check waits to connect. HAProxy: without `timeout check` a
   * check's whole timeout is `inter`; with it, min(`timeout connect`,
   * inter) to connect (then `timeout check` to read, which a dead server
   * never reaches).
   */
  checkConnectTimeoutMs: number;
}

/** HAProxy's time format: a number with an optional unit (us, ms, s, m, h, d); bare numbers are ms. */
export function parseHaproxyTime(text: string): number {
  const match = /^(\d+)(us|ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`not an HAProxy time: "${text}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return value * factor;
}

/**
 * The check timings a backend's servers inherit from its `default-server`
 * line, with HAProxy's defaults (inter 2s, fall 3, rise 2) for what is not
 * set. Pure: pass the config text.
 */
export function parseCheckTiming(config: string, backend = 'replicas'): CheckTiming {
  let inBackend = false;
  let inDefaults = false;
  let words: string[] = [];
  // `timeout connect|check` of the defaults, then of the backend (which wins);
  // `timeout check` only matters by being set.
  const timeouts = new Map<string, number>();
  for (const raw of config.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const section = /^(global|defaults|frontend|backend|listen|resolvers|userlist|peers)\b\s*(\S*)/.exec(line);
    if (section && !raw.startsWith(' ') && !raw.startsWith('\t')) {
      inBackend = section[1] === 'backend' && section[2] === backend;
      inDefaults = section[1] === 'defaults';
      continue;
    }
    if (inBackend && line.startsWith('default-server ')) words = line.split(/\s+/).slice(1);
    const timeout = /^timeout\s+(connect|check)\s+(\S+)$/.exec(line);
    if (timeout && (inBackend || inDefaults)) timeouts.set(timeout[1]!, parseHaproxyTime(timeout[2]!.replace(/^"|"$/g, '')));
  }
  const option = (name: string): string | undefined => {
    const at = words.indexOf(name);
    return at >= 0 ? words[at + 1] : undefined;
  };
  const interMs = parseHaproxyTime(option('inter') ?? '2s');
  const check = timeouts.get('check');
  const connect = timeouts.get('connect') ?? interMs;
  return {
    interMs,
    fastinterMs: option('fastinter') ? parseHaproxyTime(option('fastinter')!) : interMs,
    downinterMs: option('downinter') ? parseHaproxyTime(option('downinter')!) : interMs,
    fall: Number(option('fall') ?? 3),
    rise: Number(option('rise') ?? 2),
    checkConnectTimeoutMs: check === undefined ? interMs : Math.min(connect, interMs),
  };
}

/**
 * Longest time the checks alone take to mark a dead server DOWN: up to one
 * `inter` until the first failing check, then `fall - 1` more at
 * `fastinter`, each of the `fall` checks waiting up to its connect timeout.
 * A dead address that refuses at once (loopback, a Docker bridge: measured
 * 1.2-1.4 s here) comes in well under it; one that answers nothing (a
 * removed task on Swarm's overlay: 2.2 s) needs the timeouts.
 */
export function markDownBoundMs(timing: CheckTiming): number {
  return timing.interMs + (timing.fall - 1) * timing.fastinterMs + timing.fall * timing.checkConnectTimeoutMs;
}

/** The timings of the repository's haproxy/haproxy.cfg. */
export async function repositoryCheckTiming(): Promise<CheckTiming> {
  return parseCheckTiming(await readFile(HAPROXY_CONFIG_PATH, 'utf8'));
}
