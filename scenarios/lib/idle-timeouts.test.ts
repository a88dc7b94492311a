import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEFAULTS } from '../../server/config.ts';
import { CUT_HEARTBEAT, SURVIVING_HEARTBEAT, TEST_CUTTERS } from '../cases/idle-survival.ts';
import { HAPROXY_OPTIONAL_ENV_DEFAULTS } from '../local/haproxy.ts';
import { NGINX_DEFAULT_PROXY_TIMEOUT } from '../local/nginx.ts';
import { heartbeatProblems, parseDurationMs, productionIdleCutters } from './idle-timeouts.ts';
import { REPO_ROOT } from './repo-root.ts';

describe('parseDurationMs', () => {
  test('units, and the bare number each proxy means', () => {
    assert.equal(parseDurationMs('60s', 'ms'), 60_000);
    assert.equal(parseDurationMs('1h', 'ms'), 3_600_000);
    assert.equal(parseDurationMs('2500ms', 's'), 2500);
    assert.equal(parseDurationMs('2m', 's'), 120_000);
    assert.equal(parseDurationMs('75', 's'), 75_000);
    assert.equal(parseDurationMs('75', 'ms'), 75);
  });
  test('refuses what is not a duration', () => {
    assert.throws(() => parseDurationMs('soon', 'ms'), /not a duration/);
    assert.throws(() => parseDurationMs('-1s', 'ms'), /not a duration/);
  });
});

describe('heartbeatProblems', () => {
  const cutters = { haproxyClientMs: 60_000, haproxyServerMs: 60_000, haproxyTunnelMs: 3_600_000, nginxProxyMs: 75_000 };
  test('names every timeout the heartbeat does not fit under', () => {
    assert.deepEqual(heartbeatProblems(cutters, { pingIntervalMs: 25_000, pingTimeoutMs: 20_000 }), []);
    const problems = heartbeatProblems(cutters, { pingIntervalMs: 60_000, pingTimeoutMs: 20_000 });
    assert.deepEqual(
      problems.map((p) => p.split(' ')[0]),
      ['haproxyClientMs', 'haproxyServerMs', 'nginxProxyMs'],
    );
    // Equal is not below: the margin must be strict.
    assert.equal(heartbeatProblems({ ...cutters, haproxyClientMs: 45_000 }, { pingIntervalMs: 25_000, pingTimeoutMs: 20_000 }).length, 1);
  });
  test("the scenario's settings: the surviving heartbeat fits, the control's does not", () => {
    assert.deepEqual(heartbeatProblems(TEST_CUTTERS, SURVIVING_HEARTBEAT), []);
    assert.equal(heartbeatProblems(TEST_CUTTERS, CUT_HEARTBEAT).length, 4);
  });
});

describe('the shipped configuration', () => {
  test("the replicas' default heartbeat fits under every production proxy timeout", async () => {
    const production = await productionIdleCutters();
    const { haproxyHttpKeepAliveMs: _keepAlive, ...cutters } = production;
    assert.deepEqual(
      heartbeatProblems(cutters, { pingIntervalMs: Number(DEFAULTS.PING_INTERVAL_MS), pingTimeoutMs: Number(DEFAULTS.PING_TIMEOUT_MS) }),
      [],
    );
  });
  test("haproxy.cfg's defaults are the documented production values", async () => {
    const production = await productionIdleCutters();
    assert.equal(production.haproxyClientMs, parseDurationMs(HAPROXY_OPTIONAL_ENV_DEFAULTS.WSK_TIMEOUT_CLIENT, 'ms'));
    assert.equal(production.haproxyServerMs, parseDurationMs(HAPROXY_OPTIONAL_ENV_DEFAULTS.WSK_TIMEOUT_SERVER, 'ms'));
    assert.equal(production.haproxyTunnelMs, parseDurationMs(HAPROXY_OPTIONAL_ENV_DEFAULTS.WSK_TIMEOUT_TUNNEL, 'ms'));
    assert.equal(production.haproxyHttpKeepAliveMs, parseDurationMs(HAPROXY_OPTIONAL_ENV_DEFAULTS.WSK_TIMEOUT_HTTP_KEEP_ALIVE, 'ms'));
    const header = (await readFile(join(REPO_ROOT, 'haproxy/haproxy.cfg'), 'utf8')).split('\nglobal')[0]!;
    for (const name of Object.keys(HAPROXY_OPTIONAL_ENV_DEFAULTS)) assert.match(header, new RegExp(`#\\s+${name}\\s`), `${name} undocumented`);
  });
  test('docker-compose.yml gives Nginx the same production timeout as the local topology', async () => {
    const compose = await readFile(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    assert.match(compose, new RegExp(`WSK_NGINX_PROXY_TIMEOUT: "${NGINX_DEFAULT_PROXY_TIMEOUT}"`));
  });
});
