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
  let words: string[] = [];
  for (const raw of config.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const section = /^(global|defaults|frontend|backend|listen|resolvers|userlist|peers)\b\s*(\S*)/.exec(line);
    if (section && !raw.startsWith(' ') && !raw.startsWith('\t')) {
      inBackend = section[1] === 'backend' && section[2] === backend;
      continue;
    }
    if (inBackend && line.startsWith('default-server ')) words = line.split(/\s+/).slice(1);
  }
  const option = (name: string): string | undefined => {
    const at = words.indexOf(name);
    return at >= 0 ? words[at + 1] : undefined;
  };
  const interMs = parseHaproxyTime(option('inter') ?? '2s');
  return {
    interMs,
    fastinterMs: option('fastinter') ? parseHaproxyTime(option('fastinter')!) : interMs,
    downinterMs: option('downinter') ? parseHaproxyTime(option('downinter')!) : interMs,
    fall: Number(option('fall') ?? 3),
    rise: Number(option('rise') ?? 2),
  };
}

/**
 * Longest time the checks alone take to mark a dead server DOWN: up to one
 * `inter` until the first failing check, then `fall - 1` more at `fastinter`.
 */
export function markDownBoundMs(timing: CheckTiming): number {
  return timing.interMs + (timing.fall - 1) * timing.fastinterMs;
}

/** The timings of the repository's haproxy/haproxy.cfg. */
export async function repositoryCheckTiming(): Promise<CheckTiming> {
  return parseCheckTiming(await readFile(HAPROXY_CONFIG_PATH, 'utf8'));
}
