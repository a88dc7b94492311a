import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type ManagedProcess, spawnManaged } from '../lib/managed-process.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { waitFor } from '../lib/wait-for.ts';

/**
 * Runs the real haproxy/haproxy.cfg, unchanged, as a foreground process on
 * loopback. Only the WSK_* environment differs from Compose and Swarm, which
 * is what makes the local topology a test of the file users deploy.
 */

/** The file every topology uses. */
export const HAPROXY_CONFIG_PATH = join(REPO_ROOT, 'haproxy/haproxy.cfg');
/** The backend in haproxy.cfg whose server-template slots hold the replicas. */
export const HAPROXY_BACKEND = 'replicas';
/** Path of the stats page on WSK_STATS_BIND (`stats uri` in haproxy.cfg). */
export const HAPROXY_STATS_PATH = '/stats';
/** Path of the Prometheus exporter on WSK_STATS_BIND. */
export const HAPROXY_METRICS_PATH = '/metrics';

/** The environment contract of haproxy/haproxy.cfg, documented at the top of that file. */
export const HAPROXY_ENV_VARS = [
  'WSK_PROXY_BIND',
  'WSK_STATS_BIND',
  'WSK_STATS_USER',
  'WSK_STATS_PASSWORD',
  'WSK_DNS_NAMESERVER',
  'WSK_SERVICE_NAME',
  'WSK_SERVER_PORT',
  'WSK_COOKIE_KEY',
] as const;
export type HaproxyEnvVar = (typeof HAPROXY_ENV_VARS)[number];
/** Optional: TLS is on when WSK_TLS_CERT is set and not empty (haproxy.cfg's `.if` blocks). */
export const HAPROXY_TLS_ENV_VARS = ['WSK_TLS_CERT', 'WSK_TLS_BIND', 'WSK_TLS_PUBLIC_PORT', 'WSK_COOKIE_SAMESITE_NONE'] as const;
export type HaproxyTlsEnvVar = (typeof HAPROXY_TLS_ENV_VARS)[number];
/**
 * The optional variables: haproxy.cfg reads each as "${VAR-default}", the
 * default being the production value written here too (a test compares).
 */
export const HAPROXY_OPTIONAL_ENV_DEFAULTS = {
  WSK_TIMEOUT_CLIENT: '60s',
  WSK_TIMEOUT_SERVER: '60s',
  WSK_TIMEOUT_TUNNEL: '1h',
  WSK_TIMEOUT_HTTP_KEEP_ALIVE: '10s',
} as const;
export type HaproxyOptionalEnvVar = keyof typeof HAPROXY_OPTIONAL_ENV_DEFAULTS;
/** What haproxy.cfg reads from the environment, by variable name. */
export type HaproxyEnv = Readonly<
  Record<HaproxyEnvVar, string> & Partial<Record<HaproxyTlsEnvVar, string>> & Partial<Record<HaproxyOptionalEnvVar, string>>
>;

/** HAProxy's timeouts that the environment may shorten, in ms (haproxy.cfg's `defaults`). */
export interface HaproxyTimeouts {
  clientMs?: number;
  serverMs?: number;
  tunnelMs?: number;
  httpKeepAliveMs?: number;
}

export interface HaproxyTlsOptions {
  /** HTTPS bind, e.g. "127.0.0.1:18443" or "*:8443". */
  bind: string;
  /** PEM with the certificate (+ chain) followed by its key. */
  pemPath: string;
  /** Port clients reach HTTPS on (the redirect target); default: the bind's. */
  publicPort?: number;
  /** Add SameSite=None to the affinity cookie (cross-site pages). */
  sameSiteNone?: boolean;
}

export interface HaproxyEnvOptions {
  /** Client-facing bind, e.g. "127.0.0.1:18080" or "*:8080". */
  proxyBind: string;
  /** Stats / Prometheus listener, e.g. "127.0.0.1:8404". Keep it internal. */
  statsBind: string;
  /** Basic-auth user for the stats listener; default "wsk". */
  statsUser?: string;
  /** Basic-auth password for the stats listener; default: random per call. */
  statsPassword?: string;
  /** "ip:port" of the DNS server that answers `serviceName`. */
  dnsNameserver: string;
  /** Name whose A records are the replicas: "server", "tasks.server", "replicas.wsk.test". */
  serviceName: string;
  /** Port every replica listens on. */
  serverPort: number;
  /** Secret for `dynamic-cookie-key`. */
  cookieKey: string;
  /** Unset ones keep haproxy.cfg's production defaults. */
  timeouts?: HaproxyTimeouts;
  /** Terminate TLS too; absent: plain HTTP only. */
  tls?: HaproxyTlsOptions;
}

export class HaproxyEnvError extends Error {
  readonly code = 'HAPROXY_ENV_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`invalid HAProxy environment:\n  - ${problems.join('\n  - ')}`);
    this.name = 'HaproxyEnvError';
  }
}

const HOST_PORT = /^(\*|[A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const IPV4_PORT = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$/;
// The values land inside double-quoted config arguments: a quote, backslash,
// `$` or whitespace would change how HAProxy tokenizes the line.
const UNSAFE_IN_QUOTES = /["\\$\s#]/;

function validPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * Build the WSK_* environment for haproxy.cfg from typed options. Pure apart
 * from the random default stats password; every problem is reported at once.
 */
export function haproxyEnv(options: HaproxyEnvOptions): HaproxyEnv {
  const problems: string[] = [];
  const bind = (name: string, value: string) => {
    const match = HOST_PORT.exec(value);
    if (!match || !validPort(Number(match[2]))) problems.push(`${name} must be host:port (or *:port), got "${value}"`);
  };
  bind('proxyBind', options.proxyBind);
  bind('statsBind', options.statsBind);
  const ns = IPV4_PORT.exec(options.dnsNameserver);
  if (!ns || !validPort(Number(ns[3]))) {
    problems.push(`dnsNameserver must be ip:port (HAProxy sends UDP there), got "${options.dnsNameserver}"`);
  }
  if (!DNS_NAME.test(options.serviceName)) problems.push(`serviceName must be a DNS name, got "${options.serviceName}"`);
  if (!validPort(options.serverPort)) problems.push(`serverPort must be an integer 1-65535, got ${options.serverPort}`);
  if (options.cookieKey.length === 0) problems.push('cookieKey must not be empty');
  const statsUser = options.statsUser ?? 'wsk';
  const statsPassword = options.statsPassword ?? randomBytes(12).toString('base64url');
  if (statsUser.length === 0 || statsUser.includes(':')) problems.push('statsUser must be non-empty and contain no ":"');
  if (statsPassword.length === 0) problems.push('statsPassword must not be empty');
  const quoted: Array<[string, string]> = [
    ['cookieKey', options.cookieKey],
    ['statsUser', statsUser],
    ['statsPassword', statsPassword],
  ];
  for (const [name, value] of quoted) {
    if (UNSAFE_IN_QUOTES.test(value)) problems.push(`${name} must not contain quotes, backslashes, "$", "#" or spaces`);
  }
  const tls = options.tls;
  let tlsEnv: Partial<Record<HaproxyTlsEnvVar, string>> = {};
  if (tls) {
    bind('tls.bind', tls.bind);
    const publicPort = tls.publicPort ?? Number(HOST_PORT.exec(tls.bind)?.[2]);
    if (!validPort(publicPort)) problems.push(`tls.publicPort must be an integer 1-65535, got ${publicPort}`);
    if (tls.pemPath === '' || UNSAFE_IN_QUOTES.test(tls.pemPath)) problems.push(`tls.pemPath must be a path without quotes, "$", "#" or spaces, got "${tls.pemPath}"`);
    tlsEnv = {
      WSK_TLS_CERT: tls.pemPath,
      WSK_TLS_BIND: tls.bind,
      WSK_TLS_PUBLIC_PORT: String(publicPort),
      ...(tls.sameSiteNone ? { WSK_COOKIE_SAMESITE_NONE: '1' } : {}),
    };
  }
  const timeouts: Partial<Record<HaproxyOptionalEnvVar, string>> = {};
  const timeoutVars: Array<[keyof HaproxyTimeouts, HaproxyOptionalEnvVar]> = [
    ['clientMs', 'WSK_TIMEOUT_CLIENT'],
    ['serverMs', 'WSK_TIMEOUT_SERVER'],
    ['tunnelMs', 'WSK_TIMEOUT_TUNNEL'],
    ['httpKeepAliveMs', 'WSK_TIMEOUT_HTTP_KEEP_ALIVE'],
  ];
  for (const [key, name] of timeoutVars) {
    const value = options.timeouts?.[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) problems.push(`timeouts.${key} must be a positive integer (ms), got ${value}`);
    else timeouts[name] = `${value}ms`;
  }
  if (problems.length > 0) throw new HaproxyEnvError(problems);
  return {
    ...tlsEnv,
    ...timeouts,
    WSK_PROXY_BIND: options.proxyBind,
    WSK_STATS_BIND: options.statsBind,
    WSK_STATS_USER: statsUser,
    WSK_STATS_PASSWORD: statsPassword,
    WSK_DNS_NAMESERVER: options.dnsNameserver,
    WSK_SERVICE_NAME: options.serviceName,
    WSK_SERVER_PORT: String(options.serverPort),
    WSK_COOKIE_KEY: options.cookieKey,
  };
}

/** "*:8080" → { host: "127.0.0.1", port: 8080 }: where a local client reaches a bind. */
export function bindToConnectAddress(bind: string): { host: string; port: number } {
  const match = HOST_PORT.exec(bind);
  if (!match) throw new Error(`not a host:port bind: "${bind}"`);
  const rawHost = match[1] ?? '';
  const port = Number(match[2]);
  if (rawHost === '' || rawHost === '*' || rawHost === '0.0.0.0') return { host: '127.0.0.1', port };
  if (rawHost === '[::]') return { host: '[::1]', port };
  return { host: rawHost, port };
}

export type HaproxyServerStatus = 'UP' | 'DOWN' | 'MAINT' | 'DRAIN' | 'NOLB' | 'UNKNOWN';

export interface HaproxyServerState {
  /** Slot name from server-template, e.g. "replica3". */
  name: string;
  /** "ip:port" the slot points at; "" while the slot has no address (MAINT (resolution)). */
  address: string;
  /** Routing state: UP (incl. "UP 1/2" going down, "no check"), DOWN (incl. "DOWN 1/2" going up), MAINT, DRAIN, NOLB. */
  status: HaproxyServerStatus;
  /** The status column as HAProxy wrote it, e.g. "MAINT (resolution)". */
  rawStatus: string;
  /** The slot's current WSKSRV cookie value (dynamic: from key + IP + port). */
  cookie: string;
  /** Open sessions now (scur) and sessions ever (stot). */
  currentSessions: number;
  totalSessions: number;
  /** Last health check, e.g. "L7OK", "L7STS", "L4CON"; "" when none ran. */
  checkStatus: string;
}

function normalizeStatus(raw: string): HaproxyServerStatus {
  if (raw.startsWith('UP') || raw === 'no check') return 'UP';
  if (raw.startsWith('DOWN')) return 'DOWN';
  if (raw.startsWith('MAINT')) return 'MAINT';
  if (raw.startsWith('DRAIN')) return 'DRAIN';
  if (raw.startsWith('NOLB')) return 'NOLB';
  return 'UNKNOWN';
}

/**
 * Parse HAProxy's stats CSV (`/stats;csv`, `show stat`): the server rows of
 * `backend`, in slot order. Columns are looked up by the header names, not by
 * position, since versions append columns.
 */
export function parseHaproxyStatsCsv(csv: string, backend: string = HAPROXY_BACKEND): HaproxyServerState[] {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0];
  if (!header?.startsWith('# ')) throw new Error(`not HAProxy stats CSV (no "# pxname,..." header): ${csv.slice(0, 80)}`);
  const columns = header.slice(2).split(',');
  const index = (name: string): number => {
    const at = columns.indexOf(name);
    if (at < 0) throw new Error(`HAProxy stats CSV has no "${name}" column`);
    return at;
  };
  const at = {
    pxname: index('pxname'),
    svname: index('svname'),
    status: index('status'),
    addr: index('addr'),
    cookie: index('cookie'),
    scur: index('scur'),
    stot: index('stot'),
    checkStatus: index('check_status'),
  };
  const states: HaproxyServerState[] = [];
  for (const line of lines.slice(1)) {
    // No field of a server row contains a comma (HAProxy does not quote CSV fields here).
    const fields = line.split(',');
    const name = fields[at.svname] ?? '';
    if (fields[at.pxname] !== backend || name === 'FRONTEND' || name === 'BACKEND') continue;
    const rawStatus = fields[at.status] ?? '';
    states.push({
      name,
      address: fields[at.addr] ?? '',
      status: normalizeStatus(rawStatus),
      rawStatus,
      cookie: fields[at.cookie] ?? '',
      currentSessions: Number(fields[at.scur] || 0),
      totalSessions: Number(fields[at.stot] || 0),
      checkStatus: fields[at.checkStatus] ?? '',
    });
  }
  return states;
}

export class HaproxyConfigError extends Error {
  readonly code = 'HAPROXY_CONFIG_INVALID';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`${command} rejected the configuration (exit ${exitCode}):\n${output.trim()}`);
    this.name = 'HaproxyConfigError';
  }
}

function missingVars(env: Readonly<Record<string, string>>): string[] {
  return HAPROXY_ENV_VARS.filter((name) => !env[name]);
}

function childEnv(env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env };
}

/** `haproxy -c -f configPath` with `env`; throws HaproxyConfigError with HAProxy's own words on failure. */
export function checkHaproxyConfig(
  configPath: string,
  env: Readonly<Record<string, string>>,
  haproxyBin = 'haproxy',
): Promise<void> {
  const args = ['-c', '-f', configPath];
  const command = `${haproxyBin} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(haproxyBin, args, { env: childEnv(env), timeout: 10_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno === 'ENOENT') {
        return reject(new Error(`${haproxyBin} not found on PATH: install it (Debian: apt-get install -y haproxy)`));
      }
      const exitCode = typeof error.code === 'number' ? error.code : null;
      reject(new HaproxyConfigError(command, exitCode, `${stdout}${stderr}` || error.message));
    });
  });
}

export interface StartHaproxyOptions {
  /** Default: haproxy/haproxy.cfg of this repository. */
  configPath?: string;
  /** The WSK_* variables (see haproxyEnv). */
  env: Readonly<Record<string, string>>;
  /** Append HAProxy's output (its stdout log and alerts) here. */
  logFile?: string;
  haproxyBin?: string;
  /** How long to wait for the bind to accept connections. */
  startTimeoutMs?: number;
  /**
   * Master-worker mode (-W), as the official image runs HAProxy: `reload()`
   * then works as `docker kill -s HUP` does there. Default off: the
   * process's pid is then the one that serves (the benchmark reads its CPU).
   */
  masterWorker?: boolean;
}

export interface HaproxyHandle extends AsyncDisposable {
  /** Where clients connect: https://host:port of WSK_TLS_BIND under TLS, else http://host:port of WSK_PROXY_BIND. */
  readonly url: string;
  /** http://host:port of WSK_PROXY_BIND (under TLS it only redirects). */
  readonly plainUrl: string;
  /** HTML stats page (basic auth: statsAuth); append ";csv" for CSV. */
  readonly statsUrl: string;
  /** Prometheus exporter (basic auth: statsAuth). */
  readonly metricsUrl: string;
  readonly statsAuth: { readonly user: string; readonly password: string };
  readonly configPath: string;
  readonly process: ManagedProcess;
  /** The backend's slots as the stats CSV reports them now. */
  serverStates(): Promise<HaproxyServerState[]>;
  /**
   * Master-worker only: SIGUSR2 to the master, which re-reads the config and
   * the certificates and starts a new worker; the old one stops accepting
   * and keeps its open connections until they close or `hard-stop-after`.
   * Resolves with the worker pids before and after, once the new one runs.
   */
  reload(): Promise<{ oldWorkers: number[]; newWorkers: number[] }>;
  /** Master-worker only: the pids of the master's live children (workers, old ones included). */
  workers(): Promise<number[]>;
  /** Stop HAProxy (SIGTERM: immediate stop); resolves once it has exited. */
  stop(): Promise<void>;
}

/** Live children of `parentPid` (Linux /proc). */
async function childPids(parentPid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parentPid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids.sort((a, b) => a - b);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Validate with `haproxy -c`, then run `haproxy -db -f configPath` in the
 * foreground and wait until both binds accept connections. A failed start
 * stops the process and rethrows with HAProxy's output.
 */
export async function startHaproxy(options: StartHaproxyOptions): Promise<HaproxyHandle> {
  const configPath = options.configPath ?? HAPROXY_CONFIG_PATH;
  const haproxyBin = options.haproxyBin ?? 'haproxy';
  const env = options.env;
  const missing = missingVars(env);
  if (missing.length > 0) throw new HaproxyEnvError(missing.map((name) => `${name} is not set`));
  await checkHaproxyConfig(configPath, env, haproxyBin);

  const proxy = bindToConnectAddress(env.WSK_PROXY_BIND!);
  const tlsAt = env.WSK_TLS_CERT ? bindToConnectAddress(env.WSK_TLS_BIND ?? '') : undefined;
  const stats = bindToConnectAddress(env.WSK_STATS_BIND!);
  const statsAuth = { user: env.WSK_STATS_USER!, password: env.WSK_STATS_PASSWORD! };
  const statsBase = `http://${stats.host}:${stats.port}`;
  const statsUrl = `${statsBase}${HAPROXY_STATS_PATH}`;
  const authorization = `Basic ${Buffer.from(`${statsAuth.user}:${statsAuth.password}`).toString('base64')}`;

  // -db: foreground, no daemon, logs to our pipe; SIGTERM stops it at once.
  const child = spawnManaged(haproxyBin, [...(options.masterWorker ? ['-W'] : []), '-db', '-f', configPath], {
    name: 'haproxy',
    env: childEnv(env),
    ...(options.logFile ? { logFile: options.logFile } : {}),
  });
  // Fail at once, with HAProxy's own words, if it exits instead of listening.
  const exitedEarly = new AbortController();
  void child.exited.then(() => exitedEarly.abort(new Error(`haproxy ${child.describeExit()}`)));
  try {
    const ready = async () =>
      (await canConnect(proxy.host, proxy.port)) &&
      (await canConnect(stats.host, stats.port)) &&
      (!tlsAt || (await canConnect(tlsAt.host, tlsAt.port)));
    await waitFor(ready, {
      what: `haproxy to accept connections on ${env.WSK_PROXY_BIND}${tlsAt ? `, ${env.WSK_TLS_BIND}` : ''} and ${env.WSK_STATS_BIND}`,
      timeoutMs: options.startTimeoutMs ?? 10_000,
      intervalMs: 50,
      signal: exitedEarly.signal,
    });
  } catch (error) {
    await child.stop(1000);
    const tail = child.output().trim().split('\n').slice(-20).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- haproxy output ---\n${tail}`);
  }

  const stop = async () => {
    await child.stop(3000);
  };
  const workers = async (): Promise<number[]> => {
    if (!options.masterWorker) throw new Error('workers() needs masterWorker: true');
    return child.pid === undefined ? [] : childPids(child.pid);
  };
  const reload = async () => {
    if (!options.masterWorker || child.pid === undefined || !child.running) throw new Error('reload() needs a running master-worker HAProxy');
    const oldWorkers = await workers();
    process.kill(child.pid, 'SIGUSR2');
    let newWorkers: number[] = [];
    await waitFor(
      async () => {
        if (!child.running) throw new Error(`haproxy ${child.describeExit()}`);
        newWorkers = (await workers()).filter((pid) => !oldWorkers.includes(pid));
        return newWorkers.length > 0;
      },
      { what: `haproxy (master ${child.pid}) to start a new worker after SIGUSR2`, timeoutMs: 10_000, intervalMs: 50 },
    );
    return { oldWorkers, newWorkers };
  };
  return {
    reload,
    workers,
    url: tlsAt ? `https://${tlsAt.host}:${tlsAt.port}` : `http://${proxy.host}:${proxy.port}`,
    plainUrl: `http://${proxy.host}:${proxy.port}`,
    statsUrl,
    metricsUrl: `${statsBase}${HAPROXY_METRICS_PATH}`,
    statsAuth,
    configPath,
    process: child,
    async serverStates() {
      const response = await fetch(`${statsUrl};csv`, {
        headers: { authorization },
        signal: AbortSignal.timeout(3000),
      });
      const body = await response.text();
      if (!response.ok) throw new Error(`GET ${statsUrl};csv answered ${response.status}: ${body.slice(0, 200)}`);
      return parseHaproxyStatsCsv(body);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
