import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, describeConfig, type LoadConfigOptions, loadConfig } from './config.ts';

const fixed: LoadConfigOptions = { hostname: () => 'host-1', readFile: () => assert.fail('no file expected') };

function problemsOf(env: NodeJS.ProcessEnv, options: LoadConfigOptions = fixed): readonly string[] {
  try {
    loadConfig(env, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    return error.problems;
  }
  return assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('applies every default from an empty environment', () => {
    const config = loadConfig({}, fixed);
    assert.deepEqual(config, {
      port: 3000,
      host: '0.0.0.0',
      replicaId: 'host-1',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPassword: undefined,
      redisMode: 'standalone',
      redisSentinels: [],
      redisSentinelMaster: undefined,
      redisClusterNodes: [],
      redisPingIntervalMs: 1000,
      redisPingTimeoutMs: 2000,
      redisLostDrainMs: 10000,
      corsOrigins: [],
      logLevel: 'info',
      adapter: 'redis',
      shutdownTimeoutMs: 10000,
      drainDelayMs: 3000,
      pingIntervalMs: 25000,
      pingTimeoutMs: 20000,
      maxHttpBufferSize: 1_000_000,
      perMessageDeflate: false,
      discardHandshakeRequest: true,
      rateLimit: { eventsPerSec: 50, burst: 100, disconnectAfter: 500 },
      auth: undefined,
    });
  });

  it('defaults REPLICA_ID to the OS hostname', () => {
    assert.ok(loadConfig({}).replicaId.length > 0);
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '127.0.1.2',
        REPLICA_ID: 'replica-2',
        REDIS_URL: 'rediss://:secret@redis.internal:6380/1',
        CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
        LOG_LEVEL: 'debug',
        ADAPTER: 'redis-streams',
        SHUTDOWN_TIMEOUT_MS: '5000',
        DRAIN_DELAY_MS: '0',
        PING_INTERVAL_MS: '1000',
        PING_TIMEOUT_MS: '500',
        MAX_HTTP_BUFFER_SIZE: '2048',
        PER_MESSAGE_DEFLATE: 'true',
        DISCARD_HANDSHAKE_REQUEST: 'false',
      },
      fixed,
    );
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.1.2');
    assert.equal(config.replicaId, 'replica-2');
    assert.equal(config.redisUrl, 'rediss://:secret@redis.internal:6380/1');
    assert.deepEqual(config.corsOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.adapter, 'redis-streams');
    assert.equal(config.shutdownTimeoutMs, 5000);
    assert.equal(config.drainDelayMs, 0);
    assert.equal(config.pingIntervalMs, 1000);
    assert.equal(config.pingTimeoutMs, 500);
    assert.equal(config.maxHttpBufferSize, 2048);
    assert.equal(config.perMessageDeflate, true);
    assert.equal(config.discardHandshakeRequest, false);
  });

  it('takes only "true" or "false" for the tuning flags', () => {
    assert.throws(
      () => loadConfig({ PER_MESSAGE_DEFLATE: 'yes', DISCARD_HANDSHAKE_REQUEST: '0' }, fixed),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 2 &&
        error.problems[0] === 'PER_MESSAGE_DEFLATE: must be true or false (got "yes")' &&
        error.problems[1] === 'DISCARD_HANDSHAKE_REQUEST: must be true or false (got "0")',
    );
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://a.example' }, fixed);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.corsOrigins));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  it('ignores unrelated variables and treats empty ones as unset', () => {
    const config = loadConfig({ PATH: '/bin', NODE_ENV: 'production', SOMETHING: '!!', PORT: '', CORS_ORIGINS: '' }, fixed);
    assert.equal(config.port, 3000);
    assert.deepEqual(config.corsOrigins, []);
  });

  it('lists every problem at once, one line per problem, each naming its variable', () => {
    const env = {
      PORT: 'eighty',
      HOST: 'not a host!',
      REPLICA_ID: 'has space',
      REDIS_URL: 'http://127.0.0.1:6379',
      CORS_ORIGINS: 'https://ok.example,https://bad.example/path',
      LOG_LEVEL: 'verbose',
      ADAPTER: 'memory',
      SHUTDOWN_TIMEOUT_MS: '-1',
      DRAIN_DELAY_MS: '1.5',
      PING_INTERVAL_MS: '0',
      PING_TIMEOUT_MS: '10s',
      MAX_HTTP_BUFFER_SIZE: '1e6',
    };
    const problems = problemsOf(env);
    const named = Object.keys(env);
    assert.deepEqual(
      problems.map((line) => line.split(':', 1)[0]),
      named,
      `one problem per variable, in order:\n${problems.join('\n')}`,
    );
    for (const line of problems) assert.ok(!line.includes('\n'));
    try {
      loadConfig(env, fixed);
    } catch (error) {
      const lines = (error as Error).message.split('\n');
      assert.match(lines[0] ?? '', /invalid configuration \(12 problems\)/);
      assert.equal(lines.length, 13);
      for (const name of named) assert.ok(lines.some((line) => line.trim().startsWith(`${name}:`)), name);
    }
  });

  it('rejects ports out of range and quotes the bad value', () => {
    const [problem] = problemsOf({ PORT: '70000' });
    assert.match(problem ?? '', /^PORT: must be at most 65535 \(got "70000"\)$/);
    assert.match(problemsOf({ PORT: '80 ' })[0] ?? '', /^PORT: must be a whole number/);
  });

  it('rejects an unknown adapter and log level, naming the allowed values', () => {
    const problems = problemsOf({ ADAPTER: 'Redis', LOG_LEVEL: 'INFO' });
    assert.match(problems.join('\n'), /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/);
    assert.match(problems.join('\n'), /ADAPTER: must be one of redis, redis-sharded, redis-streams/);
  });

  it('rejects bad Redis URLs', () => {
    for (const url of ['127.0.0.1:6379', 'redis://', 'not a url', 'tcp://127.0.0.1:6379']) {
      assert.match(problemsOf({ REDIS_URL: url })[0] ?? '', /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/, url);
    }
  });

  it('never allows every origin by default; "*" only when written, and alone', () => {
    assert.deepEqual(loadConfig({}, fixed).corsOrigins, []);
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '*' }, fixed).corsOrigins, ['*']);
    assert.match(problemsOf({ CORS_ORIGINS: '*,https://a.example' })[0] ?? '', /^CORS_ORIGINS: "\*" allows every origin/);
  });

  it('rejects malformed origins, one line each', () => {
    const problems = problemsOf({
      CORS_ORIGINS: 'https://a.example/,example.com,ftp://x.example,https://ok.example:8443',
    });
    assert.equal(problems.length, 3, problems.join('\n'));
    for (const line of problems) assert.match(line, /^CORS_ORIGINS: ".*" is not an origin/);
  });

  it('requires DRAIN_DELAY_MS below SHUTDOWN_TIMEOUT_MS', () => {
    assert.match(
      problemsOf({ DRAIN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' })[0] ?? '',
      /^DRAIN_DELAY_MS: must be less than SHUTDOWN_TIMEOUT_MS/,
    );
  });

  it('reads the Redis password from REDIS_PASSWORD_FILE without its trailing newline', () => {
    const config = loadConfig(
      { REDIS_PASSWORD_FILE: '/run/secrets/redis' },
      {
        hostname: () => 'h',
        readFile: (path) => {
          assert.equal(path, '/run/secrets/redis');
          return 's3cret value\n';
        },
      },
    );
    assert.equal(config.redisPassword, 's3cret value');
    assert.equal(describeConfig(config).redisPassword, '[redacted]');
  });

  it('reports an unreadable or empty password file', () => {
    const missing = problemsOf(
      { REDIS_PASSWORD_FILE: '/nope' },
      {
        hostname: () => 'h',
        readFile: () => {
          throw new Error('ENOENT: no such file');
        },
      },
    );
    assert.match(missing[0] ?? '', /^REDIS_PASSWORD_FILE: cannot read \/nope: ENOENT/);
    const empty = problemsOf({ REDIS_PASSWORD_FILE: '/empty' }, { hostname: () => 'h', readFile: () => '\n' });
    assert.match(empty[0] ?? '', /^REDIS_PASSWORD_FILE: \/empty is empty/);
  });

  it('reports a bad default too (a hostname that is not a valid id)', () => {
    assert.match(problemsOf({}, { ...fixed, hostname: () => 'bad host' })[0] ?? '', /^REPLICA_ID: .*\(default "bad host"\)/);
  });

  it('redacts the password in REDIS_URL when describing the config', () => {
    const config = loadConfig({ REDIS_URL: 'redis://user:hunter2@redis:6379' }, fixed);
    assert.doesNotMatch(JSON.stringify(describeConfig(config)), /hunter2/);
  });

  it('rate-limits by default; RATE_LIMIT_EVENTS_PER_SEC=0 turns it off; the burst is at least 1', () => {
    const config = loadConfig({ RATE_LIMIT_EVENTS_PER_SEC: '0', RATE_LIMIT_BURST: '7', RATE_LIMIT_DISCONNECT_AFTER: '0' }, fixed);
    assert.deepEqual(config.rateLimit, { eventsPerSec: 0, burst: 7, disconnectAfter: 0 });
    assert.ok(Object.isFrozen(config.rateLimit));
    const problems = problemsOf({ RATE_LIMIT_EVENTS_PER_SEC: '-5', RATE_LIMIT_BURST: '0', RATE_LIMIT_DISCONNECT_AFTER: 'many' });
    assert.deepEqual(
      problems.map((line) => line.split(':', 1)[0]),
      ['RATE_LIMIT_EVENTS_PER_SEC', 'RATE_LIMIT_BURST', 'RATE_LIMIT_DISCONNECT_AFTER'],
    );
    assert.match(problems[1] ?? '', /^RATE_LIMIT_BURST: must be at least 1/);
  });

  it('turns authentication on with an HS256 secret, an issuer and an audience', () => {
    const secret = 'x'.repeat(32);
    const config = loadConfig({ AUTH_JWT_SECRET: secret, AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'wsk' }, fixed);
    assert.deepEqual(config.auth, { kind: 'hs256', secret, issuer: 'https://id.example', audience: 'wsk' });
    assert.ok(Object.isFrozen(config.auth));
    assert.doesNotMatch(JSON.stringify(describeConfig(config)), /xxxxxxxx/);
  });

  it('reads the JWT secret from AUTH_JWT_SECRET_FILE (Docker secret) without its newline', () => {
    const secret = 'f'.repeat(64);
    const config = loadConfig({ AUTH_JWT_SECRET_FILE: '/run/secrets/jwt' }, { hostname: () => 'h', readFile: () => `${secret}\n` });
    assert.deepEqual(config.auth, { kind: 'hs256', secret, issuer: undefined, audience: undefined });
    const short = problemsOf({ AUTH_JWT_SECRET_FILE: '/s' }, { hostname: () => 'h', readFile: () => 'short\n' });
    assert.match(short[0] ?? '', /^AUTH_JWT_SECRET_FILE: the secret in \/s must be at least 32 characters$/);
  });

  it('refuses a short secret without printing it', () => {
    const problems = problemsOf({ AUTH_JWT_SECRET: 'hunter2' });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^AUTH_JWT_SECRET: must be at least 32 characters .*\(value not shown\)$/);
    assert.doesNotMatch(problems[0] ?? '', /hunter2/);
  });

  it('turns authentication on with a JWKS URL: https, or http on loopback only', () => {
    const config = loadConfig({ AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json', AUTH_AUDIENCE: 'wsk' }, fixed);
    assert.deepEqual(config.auth, {
      kind: 'jwks',
      jwksUrl: 'https://id.example/.well-known/jwks.json',
      issuer: undefined,
      audience: 'wsk',
    });
    assert.equal(loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:9999/jwks' }, fixed).auth?.kind, 'jwks');
    for (const url of ['http://id.example/jwks', 'ftp://id.example/jwks', 'not a url']) {
      assert.match(problemsOf({ AUTH_JWKS_URL: url })[0] ?? '', /^AUTH_JWKS_URL: must be an https:\/\/ URL/, url);
    }
  });

  it('refuses two key sources, and an issuer or audience with no key to check them', () => {
    const both = problemsOf({ AUTH_JWT_SECRET: 'y'.repeat(40), AUTH_JWKS_URL: 'https://id.example/jwks' });
    assert.match(both[0] ?? '', /^AUTH_JWT_SECRET: set only one of .*\(got AUTH_JWT_SECRET, AUTH_JWKS_URL\)$/);
    const alone = problemsOf({ AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'wsk' });
    assert.deepEqual(
      alone.map((line) => line.split(':', 1)[0]),
      ['AUTH_ISSUER', 'AUTH_AUDIENCE'],
    );
    assert.match(alone[0] ?? '', /has no effect without AUTH_JWT_SECRET/);
    assert.match(problemsOf({ AUTH_JWT_SECRET: 'z'.repeat(32), AUTH_ISSUER: ' padded' })[0] ?? '', /^AUTH_ISSUER: /);
  });

  it('keeps DEFAULTS consistent with the documented values', () => {
    assert.equal(DEFAULTS.CORS_ORIGINS, '');
    assert.equal(DEFAULTS.ADAPTER, 'redis');
  });

  it('reads Sentinel mode: sentinel addresses and the master name; REDIS_URL would be ignored, so it is an error', () => {
    const config = loadConfig(
      { REDIS_MODE: 'sentinel', REDIS_SENTINELS: 's1:26379, 10.0.0.2:26380,[::1]:26381', REDIS_SENTINEL_MASTER: 'wsk' },
      fixed,
    );
    assert.equal(config.redisMode, 'sentinel');
    assert.deepEqual(config.redisSentinels, [
      { host: 's1', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    assert.equal(config.redisSentinelMaster, 'wsk');
    assert.ok(Object.isFrozen(config.redisSentinels) && Object.isFrozen(config.redisSentinels[0]));
    assert.deepEqual(problemsOf({ REDIS_MODE: 'sentinel', REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:1' }), [
      'REDIS_SENTINELS: required with REDIS_MODE=sentinel',
      'REDIS_SENTINEL_MASTER: required with REDIS_MODE=sentinel',
      'REDIS_URL: has no effect with REDIS_MODE=sentinel (it belongs to standalone)',
      'REDIS_CLUSTER_NODES: has no effect with REDIS_MODE=sentinel (it belongs to cluster)',
    ]);
  });

  it('reads Cluster mode seed nodes and lists every bad entry', () => {
    const config = loadConfig({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', ADAPTER: 'redis-sharded' }, fixed);
    assert.equal(config.redisMode, 'cluster');
    assert.deepEqual(config.redisClusterNodes, [
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 7001 },
    ]);
    assert.deepEqual(problemsOf({ REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: 'n1,n2:0,bad host:1,n3:7002' }), [
      'REDIS_CLUSTER_NODES: "n1" is not host:port (port 1..65535) (got "n1,n2:0,bad host:1,n3:7002")',
      'REDIS_CLUSTER_NODES: "n2:0" is not host:port (port 1..65535) (got "n1,n2:0,bad host:1,n3:7002")',
      'REDIS_CLUSTER_NODES: "bad host:1" is not host:port (port 1..65535) (got "n1,n2:0,bad host:1,n3:7002")',
    ]);
    assert.deepEqual(problemsOf({ REDIS_MODE: 'cluster' }), ['REDIS_CLUSTER_NODES: required with REDIS_MODE=cluster']);
    assert.match(problemsOf({ REDIS_MODE: 'Cluster' })[0] ?? '', /^REDIS_MODE: must be one of standalone, sentinel, cluster/);
    assert.deepEqual(problemsOf({ REDIS_SENTINELS: 's:1' }), ['REDIS_SENTINELS: has no effect with REDIS_MODE=standalone (it belongs to sentinel)']);
  });

  it('bounds the Redis liveness settings: a PING timeout shorter than the interval is an error', () => {
    const config = loadConfig({ REDIS_PING_INTERVAL_MS: '500', REDIS_PING_TIMEOUT_MS: '1500', REDIS_LOST_DRAIN_MS: '0' }, fixed);
    assert.equal(config.redisPingIntervalMs, 500);
    assert.equal(config.redisPingTimeoutMs, 1500);
    assert.equal(config.redisLostDrainMs, 0);
    assert.deepEqual(problemsOf({ REDIS_PING_INTERVAL_MS: '2000', REDIS_PING_TIMEOUT_MS: '1000' }), [
      'REDIS_PING_TIMEOUT_MS: must be at least REDIS_PING_INTERVAL_MS (1000 < 2000)',
    ]);
    assert.match(problemsOf({ REDIS_PING_INTERVAL_MS: '10' })[0] ?? '', /^REDIS_PING_INTERVAL_MS: must be at least 100/);
  });
});
