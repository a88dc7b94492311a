import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnManaged } from '../scenarios/lib/managed-process.ts';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';

/**
 * Runs load/artillery.yml with the Artillery installed in load/node_modules
 * (its own package.json: ~670 packages that the project itself never loads)
 * and reads back the counters of its JSON report.
 */

export const LOAD_DIR = join(REPO_ROOT, 'load');
export const ARTILLERY_BIN = join(LOAD_DIR, 'node_modules/.bin/artillery');
export const ARTILLERY_PROFILE = join(LOAD_DIR, 'artillery.yml');
/** Longest phase `make load` accepts: a load run is bounded, never open-ended. */
export const MAX_DURATION_S = 600;

export interface ArtilleryRunOptions {
  /** The proxy, e.g. http://127.0.0.1:18080. Loopback only. */
  target: string;
  durationS: number;
  /** New virtual users per second. */
  arrivalRate: number;
  /** Merged into the profile's config.engines.socketio-v3 (the negative control turns the cookie jar off). */
  engineOptions?: Readonly<Record<string, unknown>>;
  /** Report and log directory; default a fresh temp directory. */
  outDir?: string;
  log?: (line: string) => void;
}

export interface ArtilleryOutcome {
  counters: Readonly<Record<string, number>>;
  reportPath: string;
  exitCode: number | null;
}

export interface StickinessVerdict {
  ok: boolean;
  created: number;
  completed: number;
  failed: number;
  sticky: number;
  moved: number;
  messages: number;
  /** Virtual users that reported, by the replica that served them. */
  perReplica: Record<string, number>;
  problems: string[];
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

/** Throws unless `target` is an http(s) URL on a loopback address. */
export function assertLoopbackTarget(target: string): void {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`not a URL: "${target}"`);
  }
  if (!/^https?:$/.test(url.protocol)) throw new Error(`target must be http(s)://, got "${target}"`);
  if (!LOOPBACK_HOST.test(url.hostname)) throw new Error(`target must be a loopback address (127.x, localhost, [::1]), got "${url.hostname}"`);
}

/**
 * The verdict on a report's counters: every virtual user created completed,
 * reported itself sticky (same replica and Engine.IO session at the end as at
 * the start, no second welcome, no disconnect), none moved, and messages were
 * delivered. Pure.
 */
export function stickinessVerdict(counters: Readonly<Record<string, number>>): StickinessVerdict {
  const n = (key: string) => counters[key] ?? 0;
  const perReplica: Record<string, number> = {};
  for (const [key, value] of Object.entries(counters)) {
    if (key.startsWith('wsk.replica.')) perReplica[key.slice('wsk.replica.'.length)] = value;
  }
  const verdict = {
    created: n('vusers.created'),
    completed: n('vusers.completed'),
    failed: n('vusers.failed'),
    sticky: n('wsk.vu.sticky'),
    moved: n('wsk.vu.moved'),
    messages: n('wsk.messages.received'),
    perReplica,
  };
  const problems: string[] = [];
  if (verdict.created === 0) problems.push('no virtual user was created');
  if (verdict.failed > 0) {
    const errors = Object.entries(counters).filter(([key]) => key.startsWith('errors.'));
    problems.push(`${verdict.failed} virtual users failed (${errors.map(([k, v]) => `${k.slice(7)}: ${v}`).join(', ')})`);
  }
  if (verdict.completed !== verdict.created) problems.push(`${verdict.completed} of ${verdict.created} virtual users completed`);
  if (verdict.sticky !== verdict.created) problems.push(`${verdict.sticky} of ${verdict.created} virtual users reported sticky`);
  if (verdict.moved > 0) problems.push(`${verdict.moved} virtual users changed replica or session`);
  if (verdict.messages === 0) problems.push('no broadcast or room message was received');
  return { ok: problems.length === 0, ...verdict, problems };
}

/** `artillery run` against `target`; resolves with the report's aggregate counters. */
export async function runArtillery(options: ArtilleryRunOptions): Promise<ArtilleryOutcome> {
  assertLoopbackTarget(options.target);
  if (!Number.isInteger(options.durationS) || options.durationS < 1 || options.durationS > MAX_DURATION_S) {
    throw new RangeError(`durationS must be 1..${MAX_DURATION_S}, got ${options.durationS}`);
  }
  if (!(options.arrivalRate > 0 && options.arrivalRate <= 200)) throw new RangeError(`arrivalRate must be in (0, 200], got ${options.arrivalRate}`);
  if (!existsSync(ARTILLERY_BIN)) {
    throw new Error(`${ARTILLERY_BIN} is missing: run make setup (npm ci --ignore-scripts --prefix load)`);
  }
  const outDir = options.outDir ?? (await mkdtemp(join(tmpdir(), 'wsk-artillery-')));
  // One report per run: a second run in the same directory must never read the first one's.
  const reportPath = join(outDir, `artillery-report-${Date.now()}.json`);
  // An override replaces config.engines.socketio-v3 whole: start from the profile's own options.
  const base: Record<string, unknown> = { withCredentials: true, transports: ['polling', 'websocket'], reconnection: false };
  const overrides = {
    config: {
      phases: [{ duration: options.durationS, arrivalRate: options.arrivalRate }],
      ...(options.engineOptions ? { engines: { 'socketio-v3': { ...base, ...options.engineOptions } } } : {}),
    },
  };
  const args = ['run', '--target', options.target, '--overrides', JSON.stringify(overrides), '--output', reportPath, ARTILLERY_PROFILE];
  const child = spawnManaged(ARTILLERY_BIN, args, {
    name: 'artillery',
    cwd: LOAD_DIR,
    // No telemetry: a run talks to the target on loopback and nothing else.
    env: { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: '1' },
    logFile: reportPath.replace(/\.json$/, '.log'),
  });
  // Artillery's own start-up takes seconds on a busy machine; bound the whole run.
  const limitMs = (options.durationS + 120) * 1000;
  const timer = setTimeout(() => void child.stop(3000), limitMs);
  const exit = await child.exited.finally(() => clearTimeout(timer));
  options.log?.(`artillery ${child.describeExit()} (log: ${reportPath.replace(/\.json$/, '.log')})`);
  let report: { aggregate?: { counters?: Record<string, number> } };
  try {
    report = JSON.parse(await readFile(reportPath, 'utf8')) as typeof report;
  } catch (error) {
    const tail = child.output().trim().split('\n').slice(-20).join('\n');
    throw new Error(`artillery wrote no readable report (${child.describeExit()}, limit ${limitMs} ms): ${String(error)}\n${tail}`);
  }
  return { counters: report.aggregate?.counters ?? {}, reportPath, exitCode: exit.code };
}
