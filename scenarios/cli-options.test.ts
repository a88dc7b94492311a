import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, parseRunnerArgs, UsageError } from './cli-options.ts';
import { scenarioNames, selectScenarios } from './registry.ts';

test('defaults apply when no flag is given', () => {
  assert.deepEqual(parseRunnerArgs([]), {
    topology: DEFAULTS.topology,
    proxy: DEFAULTS.proxy,
    adapter: DEFAULTS.adapter,
    redis: 'standalone',
    replicas: 3,
    clients: 60,
    only: undefined,
    json: undefined,
    logDir: undefined,
    tls: false,
  });
});

test('--tls is a boolean, local topology only', () => {
  assert.equal(parseRunnerArgs(['--tls']).tls, true);
  assert.throws(() => parseRunnerArgs(['--tls', '--topology', 'compose']), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /--tls: runs on the local topology only/);
    return true;
  });
});

test('flags are parsed and typed', () => {
  const options = parseRunnerArgs(['--proxy', 'nginx', '--replicas', '5', '--only', 'affinity, rooms', '--json', 'out/r.json']);
  assert.equal(options.proxy, 'nginx');
  assert.equal(options.replicas, 5);
  assert.deepEqual(options.only, ['affinity', 'rooms']);
  assert.equal(options.json, 'out/r.json');
});

test('ADAPTER from the environment is the default adapter, a flag wins', () => {
  assert.equal(parseRunnerArgs([], { ADAPTER: 'redis-streams' }).adapter, 'redis-streams');
  assert.equal(parseRunnerArgs(['--adapter', 'redis'], { ADAPTER: 'redis-streams' }).adapter, 'redis');
});

test('every bad value is reported at once', () => {
  assert.throws(
    () => parseRunnerArgs(['--proxy', 'traefik', '--replicas', '0', '--clients', 'many']),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /--proxy/);
      assert.match(error.message, /--replicas/);
      assert.match(error.message, /--clients/);
      return true;
    },
  );
});

test('an unknown flag is a usage error, not ignored', () => {
  assert.throws(() => parseRunnerArgs(['--replica', '3']), UsageError);
});

test('--only selects in run order and rejects unknown names', () => {
  assert.deepEqual(
    selectScenarios(['rooms', 'affinity']).map((s) => s.name),
    ['affinity', 'rooms'],
  );
  assert.deepEqual(
    selectScenarios(undefined).map((s) => s.name),
    scenarioNames(),
  );
  assert.throws(() => selectScenarios(['afinity']), /unknown scenario\(s\): afinity; known: affinity/);
});

test('--redis picks the Redis mode; cluster on the local topology only, sentinel also on compose and swarm', () => {
  assert.equal(parseRunnerArgs(['--redis', 'sentinel']).redis, 'sentinel');
  assert.equal(parseRunnerArgs([], { WSK_REDIS: 'cluster' }).redis, 'cluster');
  assert.throws(() => parseRunnerArgs(['--redis', 'sentinal']), UsageError);
  assert.throws(() => parseRunnerArgs(['--redis', 'cluster', '--topology', 'compose']), /--redis: cluster runs on the local topology only/);
  assert.equal(parseRunnerArgs(['--redis', 'sentinel', '--topology', 'compose']).redis, 'sentinel');
  assert.equal(parseRunnerArgs(['--redis', 'sentinel', '--topology', 'swarm']).redis, 'sentinel');
  assert.throws(() => parseRunnerArgs(['--redis', 'sentinel', '--topology', 'k8s']), /--redis: sentinel runs on the local, compose and swarm topologies/);
});

test('--topology k8s selects the Kubernetes driver; WSK_TOPOLOGY too', () => {
  assert.equal(parseRunnerArgs(['--topology', 'k8s']).topology, 'k8s');
  assert.equal(parseRunnerArgs([], { WSK_TOPOLOGY: 'k8s' }).topology, 'k8s');
  assert.throws(() => parseRunnerArgs(['--topology', 'kubernetes']), UsageError);
});
