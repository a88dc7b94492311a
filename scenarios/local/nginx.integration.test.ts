/**
 * Debian's nginx running nginx/nginx.conf.template (rendered as the local
 * topology renders it) in front of tiny HTTP backends on 127.0.1.x. Clients
 * bind source addresses in different /24s (127.0.N.1): ip_hash only hashes
 * the first three octets, so 127.0.0.1 and 127.0.0.2 would always collide.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freeTcpPort } from '../lib/free-port.ts';
import { killAllManagedSync } from '../lib/managed-process.ts';
import { type EchoBackends, httpRequest, startEchoBackends, upgradeAndEcho } from './echo-backends.ts';
import { type NginxHandle, startNginx } from './nginx.ts';


// Last resort if the runner dies mid-test: no haproxy/nginx outlives it.
process.once('exit', killAllManagedSync);
const [A1, A2, A3] = ['127.0.1.1', '127.0.1.2', '127.0.1.3'] as const;
/** 20 clients, each in its own /24. */
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.${10 + i}.1`);

describe('nginx ip_hash on loopback', () => {
  let backends: EchoBackends | undefined;
  let nginx: NginxHandle | undefined;
  let workDir: string | undefined;
  const n = () => nginx!;
  const hostPort = (address: string) => `${address}:${backends!.port}`;
  const timings: Record<string, number> = {};

  /** Each source sends `times` requests; asserts it always reaches one backend; returns source → backend. */
  async function mapping(times = 3): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    for (const source of SOURCES) {
      const seen = new Set<string>();
      for (let i = 0; i < times; i++) {
        const response = await httpRequest(`${n().url}/hello`, { localAddress: source });
        assert.equal(response.status, 200, `${source}: ${response.status} ${response.body}`);
        seen.add(response.body);
      }
      assert.equal(seen.size, 1, `${source} reached ${[...seen].join(' and ')}`);
      result.set(source, [...seen][0]!);
    }
    return result;
  }

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'wsk-nginx-it-'));
    backends = await startEchoBackends([A1, A2, A3]);
    const started = Date.now();
    nginx = await startNginx({
      listen: `127.0.0.1:${await freeTcpPort()}`,
      upstreams: [hostPort(A1), hostPort(A2)],
      workDir,
      logFile: join(workDir, 'nginx.log'),
    });
    timings.startMs = Date.now() - started;
  });
  after(async () => {
    await nginx?.stop();
    await backends?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('every source /24 always reaches the same backend, and the sources spread over both', async () => {
    const map = await mapping();
    assert.deepEqual([...new Set(map.values())].sort(), [A1, A2]);
    assert.equal(backends!.byAddress(A3).hits, 0);
  });

  test('127.0.0.1 and 127.0.0.2 share a /24 and therefore a backend (why tests bind 127.0.N.1)', async () => {
    const a = await httpRequest(`${n().url}/hello`, { localAddress: '127.0.0.1' });
    const b = await httpRequest(`${n().url}/hello`, { localAddress: '127.0.0.2' });
    assert.equal(a.body, b.body);
  });

  test('WebSocket upgrade is tunnelled to the source\'s backend; big POST bodies pass', async () => {
    const source = SOURCES[0]!;
    const expected = (await httpRequest(`${n().url}/hello`, { localAddress: source })).body;
    const upgraded = await upgradeAndEcho(`${n().url}/socket.io/`, 'ping-through-nginx', source);
    assert.equal(upgraded.status, 101);
    assert.equal(upgraded.backend, expected);
    assert.equal(upgraded.echoed, 'ping-through-nginx');
    // Larger than client_body_buffer_size: Nginx spools it to a temp file in the work dir.
    const post = await httpRequest(`${n().url}/socket.io/?transport=polling`, {
      method: 'POST',
      body: Buffer.alloc(200_000, 'x'),
      localAddress: source,
    });
    assert.equal(post.status, 200, post.body);
    assert.equal(post.body, expected);
  });

  test('setUpstreams adds a backend (re-render + reload) and it receives sources; affinity holds', async () => {
    const started = Date.now();
    await n().setUpstreams([hostPort(A1), hostPort(A2), hostPort(A3)]);
    timings.reloadMs = Date.now() - started;
    const map = await mapping();
    assert.ok([...map.values()].includes(A3), 'no source /24 maps to the added backend');
    assert.ok(n().process.running);
  });

  test('setUpstreams removing a backend keeps everyone else\'s mapping (removed server kept as `down`)', async () => {
    const beforeMap = await mapping(1);
    await n().setUpstreams([hostPort(A1), hostPort(A3)]);
    assert.deepEqual(
      n()
        .upstreams()
        .map((u) => `${u.address}${u.down ? ' down' : ''}`),
      [hostPort(A1), `${hostPort(A2)} down`, hostPort(A3)],
    );
    const hitsBefore = backends!.byAddress(A2).hits;
    const afterMap = await mapping();
    for (const [source, backend] of beforeMap) {
      if (backend !== A2) assert.equal(afterMap.get(source), backend, `${source} moved from ${backend}`);
      else assert.notEqual(afterMap.get(source), A2);
    }
    assert.equal(backends!.byAddress(A2).hits, hitsBefore);
  });

  test('timings (diagnostic)', (t) => {
    t.diagnostic(JSON.stringify(timings));
    assert.ok(timings.reloadMs !== undefined);
  });
});
