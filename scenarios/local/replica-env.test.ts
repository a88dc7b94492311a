import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeReplicaEnv, replicaEnvFrom } from './replica-env.ts';

test('passes the replica settings on and nothing else', () => {
  const { env, ignored } = replicaEnvFrom({
    PING_INTERVAL_MS: '300',
    CORS_ORIGINS: 'https://app.example',
    RATE_LIMIT_BURST: '5',
    AUTH_JWT_SECRET: 'x'.repeat(40),
    PATH: '/usr/bin',
    HOME: '/root',
    WSK_PROXY: 'nginx',
    PER_MESSAGE_DEFLATE: '',
  });
  assert.deepEqual(env, {
    CORS_ORIGINS: 'https://app.example',
    PING_INTERVAL_MS: '300',
    RATE_LIMIT_BURST: '5',
    AUTH_JWT_SECRET: 'x'.repeat(40),
  });
  assert.deepEqual(ignored, []);
});

test('passes a bad value on as given: the replica is the one that validates it', () => {
  assert.deepEqual(replicaEnvFrom({ PING_INTERVAL_MS: 'soon' }).env, { PING_INTERVAL_MS: 'soon' });
});

test('leaves out what the topology sets per replica, and says so; ADAPTER goes as --adapter', () => {
  const { env, ignored } = replicaEnvFrom({ HOST: '0.0.0.0', PORT: '80', REPLICA_ID: 'x', REDIS_URL: 'redis://elsewhere:6379', ADAPTER: 'redis-streams' });
  assert.deepEqual(env, {});
  assert.deepEqual(ignored, ['PORT', 'HOST', 'REPLICA_ID', 'REDIS_URL']);
});

test('shows settings without their secrets', () => {
  assert.equal(describeReplicaEnv({ PING_INTERVAL_MS: '300', AUTH_JWT_SECRET: 'hunter2'.repeat(6) }), 'PING_INTERVAL_MS=300 AUTH_JWT_SECRET=***');
  assert.equal(describeReplicaEnv({}), 'replica defaults');
});
