import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';

export const ADAPTERS = ['redis', 'redis-sharded', 'redis-streams'] as const;
export type AdapterKind = (typeof ADAPTERS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly replicaId: string;
  readonly redisUrl: string;
  /** From REDIS_PASSWORD_FILE (Docker secret); overrides a password in REDIS_URL. Never log it. */
  readonly redisPassword: string | undefined;
  /** Allowed cross-origin browser origins; empty = same-origin only; ['*'] = any (explicit opt-in). */
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly adapter: AdapterKind;
  readonly shutdownTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly maxHttpBufferSize: number;
}

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
  CORS_ORIGINS: '',
  LOG_LEVEL: 'info',
  ADAPTER: 'redis',
  SHUTDOWN_TIMEOUT_MS: '10000',
  DRAIN_DELAY_MS: '3000',
  PING_INTERVAL_MS: '25000',
  PING_TIMEOUT_MS: '20000',
  MAX_HTTP_BUFFER_SIZE: '1000000',
});

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

/** An origin exactly as a browser sends it: scheme://host[:port], no path, no trailing slash. */
export function isValidOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

const corsOrigins = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
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

const SCHEMAS = {
  PORT: wholeNumber(0, 65535),
  HOST: host,
  REPLICA_ID: z.string().regex(REPLICA_ID_PATTERN, { error: `must match ${REPLICA_ID_PATTERN}` }),
  REDIS_URL: redisUrl,
  REDIS_PASSWORD_FILE: z.string(),
  CORS_ORIGINS: corsOrigins,
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  ADAPTER: z.enum(ADAPTERS, { error: `must be one of ${ADAPTERS.join(', ')}` }),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(1, MAX_MS),
  DRAIN_DELAY_MS: wholeNumber(0, MAX_MS),
  PING_INTERVAL_MS: wholeNumber(1, MAX_MS),
  PING_TIMEOUT_MS: wholeNumber(1, MAX_MS),
  MAX_HTTP_BUFFER_SIZE: wholeNumber(1, 1024 * 1024 * 1024),
} as const;

type VariableName = keyof typeof SCHEMAS;
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

  for (const name of Object.keys(SCHEMAS) as VariableName[]) {
    const raw = env[name];
    const given = raw !== undefined && raw !== '';
    const input = given ? raw : defaults[name];
    if (input === undefined) continue;
    const result = SCHEMAS[name].safeParse(input);
    if (result.success) {
      parsed[name] = result.data;
      continue;
    }
    const source = given ? `got ${JSON.stringify(raw)}` : `default ${JSON.stringify(input)}`;
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
    corsOrigins: Object.freeze([...v.CORS_ORIGINS]),
    logLevel: v.LOG_LEVEL,
    adapter: v.ADAPTER,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: v.DRAIN_DELAY_MS,
    pingIntervalMs: v.PING_INTERVAL_MS,
    pingTimeoutMs: v.PING_TIMEOUT_MS,
    maxHttpBufferSize: v.MAX_HTTP_BUFFER_SIZE,
  });
}

/** The configuration as it may be logged: secrets removed. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    redisUrl: redactUrl(config.redisUrl),
    redisPassword: config.redisPassword === undefined ? undefined : '[redacted]',
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
