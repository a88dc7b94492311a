/**
 * The real haproxy/haproxy.cfg, unchanged, against the loopback DNS responder
 * and tiny HTTP backends on 127.0.1.x: cookie affinity, DNS-driven scale up
 * and down without a restart, /readyz-driven draining, and the cookie-less
 * negative control. Every process is stopped in `after`, pass or fail.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freeTcpPort } from '../lib/free-port.ts';
import { killAllManagedSync } from '../lib/managed-process.ts';
import { waitFor } from '../lib/wait-for.ts';
import { withoutCookieAffinity } from './cookie-less.ts';
import { type DnsResponderHandle, startDnsResponder } from './dns-responder.ts';
import { type EchoBackends, httpRequest, startEchoBackends, upgradeAndEcho } from './echo-backends.ts';
import { HAPROXY_CONFIG_PATH, type HaproxyHandle, haproxyEnv, startHaproxy } from './haproxy.ts';


// Last resort if the runner dies mid-test: no haproxy/nginx outlives it.
process.once('exit', killAllManagedSync);
const SERVICE = 'replicas.wsk.test';
const [A1, A2, A3] = ['127.0.1.1', '127.0.1.2', '127.0.1.3'] as const;
/** A DNS change must reach routing well within this (haproxy.cfg promises ~1-2 s). */
const DNS_DEADLINE_MS = 10_000;

interface Stack {
  dns: DnsResponderHandle;
  backends: EchoBackends;
  haproxy: HaproxyHandle;
  workDir: string;
}

async function startStack(addresses: readonly string[], inDns: readonly string[], configText?: string): Promise<Stack> {
  const started: Array<{ close?: () => Promise<void>; stop?: () => Promise<void> }> = [];
  const workDir = await mkdtemp(join(tmpdir(), 'wsk-haproxy-it-'));
  try {
    const backends = await startEchoBackends(addresses);
    started.push(backends);
    const dns = await startDnsResponder({ records: { [SERVICE]: [...inDns] } });
    started.push(dns);
    let configPath = HAPROXY_CONFIG_PATH;
    if (configText !== undefined) {
      configPath = join(workDir, 'haproxy.cfg');
      await writeFile(configPath, configText);
    }
    const haproxy = await startHaproxy({
      configPath,
      env: haproxyEnv({
        proxyBind: `127.0.0.1:${await freeTcpPort()}`,
        statsBind: `127.0.0.1:${await freeTcpPort()}`,
        dnsNameserver: dns.nameserver,
        serviceName: SERVICE,
        serverPort: backends.port,
        cookieKey: 'integration-test-key',
      }),
      logFile: join(workDir, 'haproxy.log'),
    });
    return { dns, backends, haproxy, workDir };
  } catch (error) {
    await Promise.allSettled(started.map((s) => (s.stop ? s.stop() : s.close?.())));
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await Promise.allSettled([stack.haproxy.stop(), stack.dns.close(), stack.backends.close()]);
  await rm(stack.workDir, { recursive: true, force: true });
}

/** Addresses HAProxy routes new clients to now (slots UP, by address without port). */
async function upAddresses(haproxy: HaproxyHandle): Promise<string[]> {
  return (await haproxy.serverStates())
    .filter((s) => s.status === 'UP')
    .map((s) => s.address.split(':')[0]!)
    .sort();
}

async function waitForUp(haproxy: HaproxyHandle, wanted: readonly string[]): Promise<number> {
  const started = Date.now();
  const want = [...wanted].sort().join(',');
  await waitFor(
    async () => {
      const up = (await upAddresses(haproxy)).join(',');
      if (up !== want) throw new Error(`UP is [${up}]`);
      return true;
    },
    { what: `HAProxy to have exactly [${want}] UP`, timeoutMs: DNS_DEADLINE_MS, intervalMs: 50 },
  );
  return Date.now() - started;
}

function wsksrv(setCookie: readonly string[]): string | undefined {
  for (const header of setCookie) {
    const match = /^WSKSRV=([^;]*)/.exec(header);
    if (match) return match[1];
  }
  return undefined;
}

/** `n` new clients (no cookie, each its own connection); the backend address each landed on. */
async function newClients(url: string, n: number): Promise<string[]> {
  const served: string[] = [];
  for (let i = 0; i < n; i++) {
    const response = await httpRequest(`${url}/hello`);
    assert.equal(response.status, 200, response.body);
    served.push(response.body);
  }
  return served;
}

describe('haproxy.cfg on loopback: cookie affinity + DNS discovery', () => {
  let stack: Stack | undefined;
  const s = () => stack!;
  const timings: Record<string, number> = {};

  before(async () => {
    stack = await startStack([A1, A2, A3], [A1, A2]);
    timings.initialDiscoveryMs = await waitForUp(s().haproxy, [A1, A2]);
  });
  after(async () => {
    await stopStack(stack);
  });

  test('a client without cookie gets Set-Cookie WSKSRV, and its 20 next requests all reach the same backend', async () => {
    const first = await httpRequest(`${s().haproxy.url}/hello`);
    assert.equal(first.status, 200);
    const cookie = wsksrv(first.setCookie);
    assert.ok(cookie, `no WSKSRV cookie in ${JSON.stringify(first.setCookie)}`);
    assert.match(first.setCookie.join(';'), /HttpOnly/i);
    for (let i = 0; i < 20; i++) {
      const next = await httpRequest(`${s().haproxy.url}/hello`, { cookie: `WSKSRV=${cookie}` });
      assert.equal(next.body, first.body, `request ${i + 1} with the cookie went to ${next.body}, not ${first.body}`);
      // `insert indirect`: a valid cookie is not set again.
      assert.equal(wsksrv(next.setCookie), undefined);
    }
  });

  test('new clients are spread over both backends, each backend with its own cookie', async () => {
    const cookies = new Map<string, Set<string>>();
    for (let i = 0; i < 10; i++) {
      const response = await httpRequest(`${s().haproxy.url}/hello`);
      const cookie = wsksrv(response.setCookie);
      assert.ok(cookie);
      const set = cookies.get(response.body) ?? new Set<string>();
      set.add(cookie);
      cookies.set(response.body, set);
    }
    assert.deepEqual([...cookies.keys()].sort(), [A1, A2]);
    // `dynamic`: one stable cookie per server, different between servers.
    assert.equal(cookies.get(A1)!.size, 1);
    assert.equal(cookies.get(A2)!.size, 1);
    assert.notDeepEqual([...cookies.get(A1)!], [...cookies.get(A2)!]);
  });

  test('an HTTP Upgrade (WebSocket) is tunnelled both ways', async () => {
    const result = await upgradeAndEcho(`${s().haproxy.url}/socket.io/`, 'ping-through-haproxy');
    assert.equal(result.status, 101);
    assert.ok(result.backend === A1 || result.backend === A2, result.backend);
    assert.equal(result.echoed, 'ping-through-haproxy');
  });

  test('an address added to DNS gets new clients within seconds, without restarting HAProxy', async () => {
    const pid = s().haproxy.process.pid;
    const started = Date.now();
    s().dns.setRecords(SERVICE, [A1, A2, A3]);
    await waitFor(async () => (await newClients(s().haproxy.url, 1))[0] === A3, {
      what: `a new client to land on ${A3} after it was added to DNS`,
      timeoutMs: DNS_DEADLINE_MS,
      intervalMs: 50,
    });
    timings.addressAddedToTrafficMs = Date.now() - started;
    assert.equal(s().haproxy.process.pid, pid);
    assert.ok(s().haproxy.process.running);
    assert.deepEqual(await upAddresses(s().haproxy), [A1, A2, A3]);
  });

  test('a backend whose /readyz turns 503 stops receiving new clients; its cookie holders are redispatched', async () => {
    // A client pinned to A2 before it starts draining.
    let pinned: string | undefined;
    for (let i = 0; i < 20 && !pinned; i++) {
      const response = await httpRequest(`${s().haproxy.url}/hello`);
      if (response.body === A2) pinned = wsksrv(response.setCookie);
    }
    assert.ok(pinned, `no new client landed on ${A2}`);

    const started = Date.now();
    s().backends.byAddress(A2).ready = false;
    await waitForUp(s().haproxy, [A1, A3]);
    timings.readyz503ToDownMs = Date.now() - started;

    const hitsBefore = s().backends.byAddress(A2).hits;
    const served = await newClients(s().haproxy.url, 20);
    assert.ok(!served.includes(A2), `new clients still reached ${A2}`);
    assert.deepEqual([...new Set(served)].sort(), [A1, A3]);
    const moved = await httpRequest(`${s().haproxy.url}/hello`, { cookie: `WSKSRV=${pinned}` });
    assert.equal(moved.status, 200);
    assert.notEqual(moved.body, A2);
    assert.ok(wsksrv(moved.setCookie), 'the redispatched client should get a cookie for its new backend');
    assert.equal(s().backends.byAddress(A2).hits, hitsBefore);
  });

  test('an address removed from DNS stops receiving traffic, cookie holders included', async () => {
    let pinned: string | undefined;
    for (let i = 0; i < 20 && !pinned; i++) {
      const response = await httpRequest(`${s().haproxy.url}/hello`);
      if (response.body === A1) pinned = wsksrv(response.setCookie);
    }
    assert.ok(pinned, `no new client landed on ${A1}`);

    const started = Date.now();
    s().dns.setRecords(SERVICE, [A2, A3]);
    await waitForUp(s().haproxy, [A3]); // A2 is still failing /readyz
    timings.addressRemovedToOutMs = Date.now() - started;
    const slot = (await s().haproxy.serverStates()).find((state) => state.address.startsWith(`${A1}:`));
    assert.equal(slot, undefined, `a slot still points at ${A1}: ${JSON.stringify(slot)}`);

    const hitsBefore = s().backends.byAddress(A1).hits;
    assert.deepEqual([...new Set(await newClients(s().haproxy.url, 10))], [A3]);
    const moved = await httpRequest(`${s().haproxy.url}/hello`, { cookie: `WSKSRV=${pinned}` });
    assert.equal(moved.body, A3);
    assert.equal(s().backends.byAddress(A1).hits, hitsBefore);
  });

  test('stats: CSV and Prometheus exporter behind basic auth', async () => {
    const { user, password } = s().haproxy.statsAuth;
    const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal((await fetch(s().haproxy.metricsUrl)).status, 401);
    assert.equal((await fetch(`${s().haproxy.statsUrl};csv`)).status, 401);
    const metrics = await fetch(s().haproxy.metricsUrl, { headers: { authorization } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /haproxy_server_status\{proxy="replicas",server="replica1"/);
    const states = await s().haproxy.serverStates();
    assert.equal(states.length, 16, 'server-template has 16 slots');
  });

  test('timings (diagnostic)', (t) => {
    t.diagnostic(JSON.stringify(timings));
    assert.ok(Object.keys(timings).length >= 4);
  });
});

describe('negative control: haproxy.cfg without cookie affinity', () => {
  let stack: Stack | undefined;

  before(async () => {
    const derived = withoutCookieAffinity(await readFile(HAPROXY_CONFIG_PATH, 'utf8'));
    stack = await startStack([A1, A2], [A1, A2], derived);
    await waitForUp(stack.haproxy, [A1, A2]);
  });
  after(async () => {
    await stopStack(stack);
  });

  test('sets no cookie, and one client\'s consecutive requests alternate between backends', async () => {
    const served: string[] = [];
    for (let i = 0; i < 10; i++) {
      // Even a cookie that was valid under the real config pins nothing here.
      const response = await httpRequest(`${stack!.haproxy.url}/hello`, { cookie: 'WSKSRV=62ea2f8ad2bdaf66' });
      assert.equal(wsksrv(response.setCookie), undefined);
      served.push(response.body);
    }
    assert.deepEqual([...new Set(served)].sort(), [A1, A2]);
    // roundrobin over two idle servers: never the same backend twice in a row.
    for (let i = 1; i < served.length; i++) assert.notEqual(served[i], served[i - 1], served.join(' '));
  });
});
