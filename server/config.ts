import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';

export const ADAPTERS = ['redis', 'redis-sharded', 'redis-streams'] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

/** Where the replica finds Redis: one server, a Sentinel-monitored master, or a Redis Cluster. */
export const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly replicaId: string;
  readonly redisUrl: string;
  /**
   * From REDIS_PASSWORD_FILE (Docker secret); overrides a password in REDIS_URL.
   * In Sentinel mode the sentinels are asked with it too. Never log it.
   */
  readonly redisPassword: string | undefined;
  /** standalone: REDIS_URL; sentinel: redisSentinels + redisSentinelMaster; cluster: redisClusterNodes. */
  readonly redisMode: RedisMode;
  /** REDIS_SENTINELS (sentinel mode only; empty otherwise). */
  readonly redisSentinels: readonly RedisNodeAddress[];
  /** REDIS_SENTINEL_MASTER: the master name the sentinels monitor (sentinel mode only). */
  readonly redisSentinelMaster: string | undefined;
  /** REDIS_CLUSTER_NODES: seed nodes (cluster mode only; empty otherwise). */
  readonly redisClusterNodes: readonly RedisNodeAddress[];
  /** How often every Redis connection is PINGed, so a silently dead one (a partition) is noticed. */
  readonly redisPingIntervalMs: number;
  /** A PING unanswered this long marks its connection unresponsive (/readyz 503, wsk_redis_connection_up 0). */
  readonly redisPingTimeoutMs: number;
  /**
   * Redis unavailable (any connection not ready) this long: close every
   * client connection so clients reconnect to replicas that have Redis.
   * 0 = never. Longer than a short Redis restart, which must drop no client.
   */
  readonly redisLostDrainMs: number;
  /** Allowed cross-origin browser origins; empty = same-origin only; ['*'] = any (explicit opt-in). */
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly adapter: AdapterKind;
  readonly shutdownTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly maxHttpBufferSize: number;
  /** WebSocket permessage-deflate (Socket.IO's default: off). Costs a zlib context per connection. */
  readonly perMessageDeflate: boolean;
  /**
   * Drop the reference to the handshake's HTTP request once the Socket.IO
   * connection is established (socket.handshake keeps what handlers read).
   */
  readonly discardHandshakeRequest: boolean;
  /** Per-socket event rate limit (token bucket); eventsPerSec 0 = off. */
  readonly rateLimit: RateLimitConfig;
  /** JWT authentication of every connection; undefined = off (anyone may connect). */
  readonly auth: AuthConfig | undefined;
}

export interface RateLimitConfig {
  /** Sustained events per second one socket may send; 0 turns the limit off. */
  readonly eventsPerSec: number;
  /** Events a socket may send at once after being quiet (bucket size). */
  readonly burst: number;
  /** Refused events within RATE_LIMIT_WINDOW_MS after which the socket is disconnected; 0 = never. */
  readonly disconnectAfter: number;
}

/** How a handshake's JWT is verified: a shared HS256 secret, or the keys at a JWKS URL. */
export type AuthConfig = (
  | { readonly kind: 'hs256'; readonly secret: string }
  | { readonly kind: 'jwks'; readonly jwksUrl: string }
) & {
  /** Required `iss` claim, if set. */
  readonly issuer: string | undefined;
  /** Required `aud` claim, if set. */
  readonly audience: string | undefined;
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly string[]) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    super(`invalid configuration (${problems.length} ${noun}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Default for REPLICA_ID. */
  hostname?: () => string;
  /** Reads REDIS_PASSWORD_FILE; injectable so tests need no files. */
  readFile?: (path: string) => string;
}

/** Every default in one place; the README's configuration table mirrors this. */
export const DEFAULTS = Object.freeze({
  PORT: '3000',
  HOST: '0.0.0.0',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_MODE: 'standalone',
  REDIS_PING_INTERVAL_MS: '1000',
  REDIS_PING_TIMEOUT_MS: '2000',
  REDIS_LOST_DRAIN_MS: '10000',
  CORS_ORIGINS: '',
  LOG_LEVEL: 'info',
  ADAPTER: 'redis',
  SHUTDOWN_TIMEOUT_MS: '10000',
  DRAIN_DELAY_MS: '3000',
  PING_INTERVAL_MS: '25000',
  PING_TIMEOUT_MS: '20000',
  MAX_HTTP_BUFFER_SIZE: '1000000',
  PER_MESSAGE_DEFLATE: 'false',
  DISCARD_HANDSHAKE_REQUEST: 'true',
  RATE_LIMIT_EVENTS_PER_SEC: '50',
  RATE_LIMIT_BURST: '100',
  RATE_LIMIT_DISCONNECT_AFTER: '500',
});

/** HS256 needs a key of at least 256 bits; 32 characters is the floor (`openssl rand -hex 32` gives 64). */
export const MIN_JWT_SECRET_LENGTH = 32;
/** Variables whose values must never appear in an error message or a log line. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['AUTH_JWT_SECRET']);

const HOSTNAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Printable and space-free: the id shows up in logs, replies and metrics labels. */
const REPLICA_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;

function wholeNumber(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number between ${min} and ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );
}

const host = z.string().refine((value) => isIP(value) !== 0 || HOSTNAME_PATTERN.test(value), {
  error: 'must be an IP address or a hostname',
});

const redisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379' },
);

/** A comma-separated list, entries trimmed, empty ones dropped. */
const commaList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  );

/** `host:port,host:port`: at least one address, each with a port. */
const nodeList = commaList
  .transform((entries, ctx) => {
    const nodes: RedisNodeAddress[] = [];
    if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
    for (const entry of entries) {
      const match = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const hostPart = match?.[1]?.replace(/^\[(.*)\]$/, '$1') ?? '';
      const port = Number(match?.[2]);
      if (!match || !(isIP(hostPart) !== 0 || HOSTNAME_PATTERN.test(hostPart)) || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not host:port (port 1..65535)` });
        continue;
      }
      nodes.push(Object.freeze({ host: hostPart, port }));
    }
    return nodes;
  });

/** An origin exactly as a browser sends it: scheme://host[:port], no path, no trailing slash. */
export function isValidOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

const corsOrigins = commaList
  .superRefine((entries, ctx) => {
    if (entries.includes('*') && entries.length > 1) {
      ctx.addIssue({ code: 'custom', message: '"*" allows every origin and must be the only entry' });
    }
    for (const entry of entries) {
      if (entry !== '*' && !isValidOrigin(entry)) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(entry)} is not an origin (scheme://host[:port], no path or trailing slash)`,
        });
      }
    }
  });

const MAX_MS = 24 * 60 * 60 * 1000;

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Signing keys must not be fetched over plain HTTP, where anyone on the path could swap them; loopback excepted. */
const jwksUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
    } catch {
      return false;
    }
  },
  { error: 'must be an https:// URL (http:// only on loopback), e.g. https://auth.example.com/.well-known/jwks.json' },
);

/** "true" or "false", nothing else: a typo must not silently mean either. */
const flag = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((value) => value === 'true');

const nonEmptyText = z.string().regex(/^\S(.*\S)?$/, { error: 'must not start or end with white space' });

const SCHEMAS = {
  PORT: wholeNumber(0, 65535),
  HOST: host,
  REPLICA_ID: z.string().regex(REPLICA_ID_PATTERN, { error: `must match ${REPLICA_ID_PATTERN}` }),
  REDIS_URL: redisUrl,
  REDIS_PASSWORD_FILE: z.string(),
  REDIS_MODE: z.enum(REDIS_MODES, { error: `must be one of ${REDIS_MODES.join(', ')}` }),
  REDIS_SENTINELS: nodeList,
  REDIS_SENTINEL_MASTER: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must match /^[A-Za-z0-9._-]{1,64}$/' }),
  REDIS_CLUSTER_NODES: nodeList,
  REDIS_PING_INTERVAL_MS: wholeNumber(100, 60_000),
  REDIS_PING_TIMEOUT_MS: wholeNumber(100, 60_000),
  REDIS_LOST_DRAIN_MS: wholeNumber(0, MAX_MS),
  CORS_ORIGINS: corsOrigins,
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  ADAPTER: z.enum(ADAPTERS, { error: `must be one of ${ADAPTERS.join(', ')}` }),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(1, MAX_MS),
  DRAIN_DELAY_MS: wholeNumber(0, MAX_MS),
  PING_INTERVAL_MS: wholeNumber(1, MAX_MS),
  PING_TIMEOUT_MS: wholeNumber(1, MAX_MS),
  MAX_HTTP_BUFFER_SIZE: wholeNumber(1, 1024 * 1024 * 1024),
  PER_MESSAGE_DEFLATE: flag,
  DISCARD_HANDSHAKE_REQUEST: flag,
  RATE_LIMIT_EVENTS_PER_SEC: wholeNumber(0, 1_000_000),
  RATE_LIMIT_BURST: wholeNumber(1, 1_000_000),
  RATE_LIMIT_DISCONNECT_AFTER: wholeNumber(0, 1_000_000_000),
  AUTH_JWT_SECRET: z.string().min(MIN_JWT_SECRET_LENGTH, {
    error: `must be at least ${MIN_JWT_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`,
  }),
  AUTH_JWT_SECRET_FILE: z.string(),
  AUTH_JWKS_URL: jwksUrl,
  AUTH_ISSUER: nonEmptyText,
  AUTH_AUDIENCE: nonEmptyText,
} as const;

type VariableName = keyof typeof SCHEMAS;
/** Every variable the replica reads: tools that hand a replica its environment (stack up) pass these on. */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(SCHEMAS));
type Parsed = { [K in VariableName]: z.output<(typeof SCHEMAS)[K]> };

/**
 * Read the replica's configuration from `env`, once. Only the variables listed
 * in SCHEMAS are read; everything else is ignored. An empty variable counts
 * as unset (Compose passes `VAR=` for `${VAR:-}`). Throws ConfigError listing
 * every problem, one per line, each starting with the variable's name.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: LoadConfigOptions = {}): Config {
  const hostname = options.hostname ?? osHostname;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const defaults: Partial<Record<VariableName, string>> = { ...DEFAULTS, REPLICA_ID: hostname() };
  const problems: string[] = [];
  const parsed: Partial<Record<VariableName, unknown>> = {};
  const present = new Set<VariableName>();

  for (const name of Object.keys(SCHEMAS) as VariableName[]) {
    const raw = env[name];
    const given = raw !== undefined && raw !== '';
    const input = given ? raw : defaults[name];
    if (given) present.add(name);
    if (input === undefined) continue;
    const result = SCHEMAS[name].safeParse(input);
    if (result.success) {
      parsed[name] = result.data;
      continue;
    }
    const source = SECRET_VARIABLES.has(name)
      ? 'value not shown'
      : given
        ? `got ${JSON.stringify(raw)}`
        : `default ${JSON.stringify(input)}`;
    for (const issue of result.error.issues) problems.push(`${name}: ${issue.message} (${source})`);
  }

  const values = parsed as Partial<Parsed>;
  let redisPassword: string | undefined;
  if (values.REDIS_PASSWORD_FILE !== undefined) {
    try {
      // Secrets files usually end with a newline that is not part of the password.
      redisPassword = readFile(values.REDIS_PASSWORD_FILE).replace(/\r?\n$/, '');
      if (redisPassword === '') problems.push(`REDIS_PASSWORD_FILE: ${values.REDIS_PASSWORD_FILE} is empty`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      problems.push(`REDIS_PASSWORD_FILE: cannot read ${values.REDIS_PASSWORD_FILE}: ${reason}`);
    }
  }
  const auth = authConfig(values, present, readFile, problems);
  redisModeProblems(values, present, problems);
  if (
    values.DRAIN_DELAY_MS !== undefined &&
    values.SHUTDOWN_TIMEOUT_MS !== undefined &&
    values.DRAIN_DELAY_MS >= values.SHUTDOWN_TIMEOUT_MS
  ) {
    problems.push(
      `DRAIN_DELAY_MS: must be less than SHUTDOWN_TIMEOUT_MS (${values.DRAIN_DELAY_MS} >= ${values.SHUTDOWN_TIMEOUT_MS}), or every shutdown times out`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const v = values as Parsed;
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    replicaId: v.REPLICA_ID,
    redisUrl: v.REDIS_URL,
    redisPassword,
    redisMode: v.REDIS_MODE,
    redisSentinels: Object.freeze([...(v.REDIS_SENTINELS ?? [])]),
    redisSentinelMaster: v.REDIS_SENTINEL_MASTER,
    redisClusterNodes: Object.freeze([...(v.REDIS_CLUSTER_NODES ?? [])]),
    redisPingIntervalMs: v.REDIS_PING_INTERVAL_MS,
    redisPingTimeoutMs: v.REDIS_PING_TIMEOUT_MS,
    redisLostDrainMs: v.REDIS_LOST_DRAIN_MS,
    corsOrigins: Object.freeze([...v.CORS_ORIGINS]),
    logLevel: v.LOG_LEVEL,
    adapter: v.ADAPTER,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: v.DRAIN_DELAY_MS,
    pingIntervalMs: v.PING_INTERVAL_MS,
    pingTimeoutMs: v.PING_TIMEOUT_MS,
    maxHttpBufferSize: v.MAX_HTTP_BUFFER_SIZE,
    perMessageDeflate: v.PER_MESSAGE_DEFLATE,
    discardHandshakeRequest: v.DISCARD_HANDSHAKE_REQUEST,
    rateLimit: Object.freeze({
      eventsPerSec: v.RATE_LIMIT_EVENTS_PER_SEC,
      burst: v.RATE_LIMIT_BURST,
      disconnectAfter: v.RATE_LIMIT_DISCONNECT_AFTER,
    }),
    auth,
  });
}

/**
 * Each mode needs its own variables and ignores the others'; a variable that
 * would be ignored is an error, so a half-migrated environment is noticed.
 */
function redisModeProblems(values: Partial<Parsed>, present: ReadonlySet<VariableName>, problems: string[]): void {
  const mode = values.REDIS_MODE;
  if (mode === undefined) return;
  const need: Record<RedisMode, readonly VariableName[]> = {
    standalone: [],
    sentinel: ['REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER'],
    cluster: ['REDIS_CLUSTER_NODES'],
  };
  const own: Record<RedisMode, readonly VariableName[]> = {
    standalone: ['REDIS_URL'],
    sentinel: need.sentinel,
    cluster: need.cluster,
  };
  for (const name of need[mode]) {
    if (!present.has(name)) problems.push(`${name}: required with REDIS_MODE=${mode}`);
  }
  for (const other of REDIS_MODES) {
    if (other === mode) continue;
    for (const name of own[other]) {
      if (present.has(name)) problems.push(`${name}: has no effect with REDIS_MODE=${mode} (it belongs to ${other})`);
    }
  }
  if (
    values.REDIS_PING_INTERVAL_MS !== undefined &&
    values.REDIS_PING_TIMEOUT_MS !== undefined &&
    values.REDIS_PING_TIMEOUT_MS < values.REDIS_PING_INTERVAL_MS
  ) {
    problems.push(
      `REDIS_PING_TIMEOUT_MS: must be at least REDIS_PING_INTERVAL_MS (${values.REDIS_PING_TIMEOUT_MS} < ${values.REDIS_PING_INTERVAL_MS})`,
    );
  }
}

/**
 * Authentication is on when a key source is set: exactly one of
 * AUTH_JWT_SECRET, AUTH_JWT_SECRET_FILE (Docker secret) and AUTH_JWKS_URL.
 * AUTH_ISSUER / AUTH_AUDIENCE without a key source would look like
 * protection while checking nothing, so they are an error on their own.
 */
function authConfig(
  values: Partial<Parsed>,
  present: ReadonlySet<VariableName>,
  readFile: (path: string) => string,
  problems: string[],
): AuthConfig | undefined {
  // Counted by presence, so a secret that failed its own check is not also "missing".
  const sources = (['AUTH_JWT_SECRET', 'AUTH_JWT_SECRET_FILE', 'AUTH_JWKS_URL'] as const).filter((name) => present.has(name));
  if (sources.length > 1) {
    problems.push(`${sources[0]}: set only one of AUTH_JWT_SECRET, AUTH_JWT_SECRET_FILE and AUTH_JWKS_URL (got ${sources.join(', ')})`);
    return undefined;
  }
  if (sources.length === 0) {
    for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const) {
      if (values[name] !== undefined) {
        problems.push(`${name}: has no effect without AUTH_JWT_SECRET, AUTH_JWT_SECRET_FILE or AUTH_JWKS_URL`);
      }
    }
    return undefined;
  }
  const claims = { issuer: values.AUTH_ISSUER, audience: values.AUTH_AUDIENCE };
  if (sources[0] === 'AUTH_JWKS_URL') {
    if (values.AUTH_JWKS_URL === undefined) return undefined;
    return Object.freeze({ kind: 'jwks', jwksUrl: values.AUTH_JWKS_URL, ...claims });
  }
  let secret = values.AUTH_JWT_SECRET;
  if (values.AUTH_JWT_SECRET_FILE !== undefined) {
    const path = values.AUTH_JWT_SECRET_FILE;
    try {
      secret = readFile(path).replace(/\r?\n$/, '');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      problems.push(`AUTH_JWT_SECRET_FILE: cannot read ${path}: ${reason}`);
      return undefined;
    }
    if (secret.length < MIN_JWT_SECRET_LENGTH) {
      problems.push(`AUTH_JWT_SECRET_FILE: the secret in ${path} must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
      return undefined;
    }
  }
  // Only a schema failure leaves it undefined here, and that is already a problem.
  if (secret === undefined) return undefined;
  return Object.freeze({ kind: 'hs256', secret, ...claims });
}

/** The configuration as it may be logged: secrets removed. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    redisUrl: redactUrl(config.redisUrl),
    redisPassword: config.redisPassword === undefined ? undefined : '[redacted]',
    auth: config.auth?.kind === 'hs256' ? { ...config.auth, secret: '[redacted]' } : config.auth,
  };
}

export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = 'redacted';
    return url.toString();
  } catch {
    return value;
  }
}
