/**
 * Certificate rotation without dropping WebSockets, for both proxies, in
 * front of two real replicas (and Redis):
 *   - the real haproxy.cfg with TLS, in master-worker mode as the official
 *     image runs it, reloaded with SIGUSR2 to the master (what
 *     `docker kill -s HUP` sends in the image);
 *   - the real Nginx template with TLS, reloaded with SIGHUP (`nginx -s reload`).
 * Socket.IO clients hold wss:// connections; the certificate file is
 * replaced and the proxy reloaded. Then: no client disconnected, each still
 * gets answers from its replica, an old worker still carries them, and a new
 * TLS connection is served the new certificate. Every process is stopped in
 * `after`, pass or fail.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { whoami } from '../../client/api.ts';
import { getText, setTrustedCa } from '../../client/tls-trust.ts';
import { openClient, type WskSocket } from '../../client/connect.ts';
import { freeTcpPort, isTcpPortFreeOn } from '../lib/free-port.ts';
import { killAllManagedSync, type ManagedProcess } from '../lib/managed-process.ts';
import { type DnsResponderHandle, startDnsResponder } from './dns-responder.ts';
import { type HaproxyHandle, haproxyEnv, startHaproxy } from './haproxy.ts';
import { type NginxHandle, startNginx } from './nginx.ts';
import { type LocalRedis, startLocalRedis } from './redis-ha.ts';
import { startReplicaProcess } from './replica-process.ts';
import { makeTlsMaterial, type TlsMaterial } from './tls-certs.ts';

process.once('exit', killAllManagedSync);
const SERVICE = 'replicas.wsk.test';
const ADDRESSES = ['127.0.1.1', '127.0.1.2'] as const;
const CLIENTS = 12;
/** How long the clients are watched after the reload (well under haproxy.cfg's hard-stop-after 30s). */
const WATCH_MS = 5000;

let workDir = '';
let tls: TlsMaterial;
let redis: LocalRedis | undefined;
let dns: DnsResponderHandle | undefined;
let haproxy: HaproxyHandle | undefined;
let nginx: NginxHandle | undefined;
let replicaPort = 0;
const replicas: ManagedProcess[] = [];
const sockets: WskSocket[] = [];

/** The serial of the certificate a fresh TLS connection to `url` is served, verified against `ca`. */
function servedSerial(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca });
    socket.setTimeout(5000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
      socket.end();
    });
    socket.once('error', reject);
  });
}

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'wsk-tls-reload-'));
  tls = await makeTlsMaterial(join(workDir, 'tls'));
  // For getText; the Socket.IO clients below are given the CA explicitly.
  setTrustedCa(tls.caPem);
  redis = await startLocalRedis('standalone', workDir);
  let port = 0;
  for (let attempt = 0; attempt < 20 && port === 0; attempt++) {
    const candidate = await freeTcpPort(ADDRESSES[0]);
    if (await isTcpPortFreeOn(candidate, ADDRESSES)) port = candidate;
  }
  assert.ok(port > 0, 'no port free on both replica addresses');
  replicaPort = port;
  for (const [i, address] of ADDRESSES.entries()) {
    replicas.push(
      await startReplicaProcess({ id: `replica-${i + 1}`, address, port, env: { ...redis.replicaEnv, LOG_LEVEL: 'warn' }, logFile: join(workDir, `replica-${i + 1}.log`) }),
    );
  }
  dns = await startDnsResponder({ records: { [SERVICE]: [...ADDRESSES] } });
  haproxy = await startHaproxy({
    masterWorker: true,
    env: haproxyEnv({
      proxyBind: `127.0.0.1:${await freeTcpPort()}`,
      statsBind: `127.0.0.1:${await freeTcpPort()}`,
      dnsNameserver: dns.nameserver,
      serviceName: SERVICE,
      serverPort: port,
      cookieKey: 'tls-reload-test-key',
      // SameSite=None here (the local topology runs without it): both cookie flavours are seen on the wire.
      tls: { bind: `127.0.0.1:${await freeTcpPort()}`, pemPath: tls.serverPemPath, sameSiteNone: true },
    }),
    logFile: join(workDir, 'haproxy.log'),
  });
});

after(async () => {
  for (const socket of sockets) socket.disconnect();
  await haproxy?.stop().catch(() => undefined);
  await nginx?.stop().catch(() => undefined);
  await Promise.allSettled(replicas.map((replica) => replica.stop(3000)));
  await Promise.allSettled([redis?.down(), dns?.close()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Rotation {
  url: string;
  reload(): Promise<void>;
  /** The proxy's worker pids now (old ones included while they drain). */
  workers(): Promise<number[]>;
  /** Whether clients must spread over both replicas (HAProxy: leastconn; Nginx: ip_hash puts one source address on one). */
  spreads: boolean;
}

/** Clients on wss://, rotate the certificate, reload, and check nobody noticed. */
async function rotateUnderClients(proxy: Rotation): Promise<void> {
  assert.match(proxy.url, /^https:/);
  const serialBefore = await servedSerial(proxy.url, tls.caPem);
  const mine: WskSocket[] = [];
  // Default transports (polling, then the WebSocket upgrade) over TLS, trusting only the run's CA.
  const homes = new Map<WskSocket, string>();
  for (let i = 0; i < CLIENTS; i++) {
    const { socket, welcome } = await openClient(proxy.url, { ca: tls.caPem, reconnection: false });
    sockets.push(socket);
    mine.push(socket);
    homes.set(socket, welcome.replica);
  }
  const deadlineUpgrade = Date.now() + 10_000;
  while (!mine.every((s) => s.io.engine.transport.name === 'websocket')) {
    assert.ok(Date.now() < deadlineUpgrade, 'not every client upgraded to WebSocket within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  if (proxy.spreads) assert.equal(new Set(homes.values()).size, ADDRESSES.length, 'clients spread over both replicas');
  let disconnects = 0;
  for (const socket of mine) socket.on('disconnect', () => (disconnects += 1));

  const oldWorkers = await proxy.workers();
  const rotated = await tls.reissue();
  assert.notEqual(rotated.serial, serialBefore);
  await proxy.reload();

  // New TLS connections: the new certificate (the old workers closed their listeners).
  assert.equal(await servedSerial(proxy.url, tls.caPem), rotated.serial, 'served certificate after the reload');
  const { socket: newcomer } = await openClient(proxy.url, { ca: tls.caPem, reconnection: false, transports: ['websocket'] });
  sockets.push(newcomer);

  // The old clients: still connected, still answered by their own replica.
  const watchUntil = Date.now() + WATCH_MS;
  let rounds = 0;
  while (Date.now() < watchUntil) {
    const answers = await Promise.all(mine.map((socket) => whoami(socket, 3000)));
    for (const [i, answer] of answers.entries()) assert.equal(answer.replica, homes.get(mine[i]!), `client ${i} answered by another replica`);
    rounds += 1;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(rounds >= 3, `only ${rounds} whoami rounds in ${WATCH_MS} ms`);
  assert.equal(disconnects, 0, 'clients disconnected by the reload');
  assert.ok(mine.every((s) => s.connected && s.io.engine.transport.name === 'websocket'), 'every old client still on its WebSocket');
  // Still carried by an old worker: the reload did not cut and re-open them.
  const live = await proxy.workers();
  assert.ok(oldWorkers.some((pid) => live.includes(pid)), `old worker(s) ${oldWorkers.join(',')} gone (live: ${live.join(',')}): tunnels were cut`);
  assert.ok(live.some((pid) => !oldWorkers.includes(pid)), 'no new worker runs');
  for (const socket of [...mine, newcomer]) socket.disconnect();
}

test('HAProxy: a certificate reload keeps every open WebSocket and serves the new certificate to new connections', async () => {
  const proxy = haproxy!;
  // Both replicas must be UP before clients come, or all land on one.
  const deadline = Date.now() + 10_000;
  while ((await proxy.serverStates()).filter((s) => s.status === 'UP').length < ADDRESSES.length) {
    assert.ok(Date.now() < deadline, 'HAProxy did not route to both replicas within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await servedSerial(proxy.url, tls.caPem), tls.serial, 'served certificate before the reload');
  // WSK_COOKIE_SAMESITE_NONE=1: the cookie a cross-site page needs (Secure, SameSite=None).
  const handshake = await getText(`${proxy.url}/socket.io/?EIO=4&transport=polling`, { timeoutMs: 5000 });
  const cookie = (handshake.headers['set-cookie'] ?? []).find((line) => line.startsWith('WSKSRV='));
  assert.ok(cookie, 'the https handshake sets WSKSRV');
  const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
  assert.ok(attributes.includes('secure') && attributes.includes('samesite=none'), `WSKSRV attributes: ${cookie}`);
  await rotateUnderClients({
    url: proxy.url,
    reload: async () => {
      await proxy.reload();
    },
    workers: () => proxy.workers(),
    spreads: true,
  });
  await proxy.stop();
});

test('Nginx: a certificate reload keeps every open WebSocket and serves the new certificate to new connections', async () => {
  const listen = `127.0.0.1:${await freeTcpPort()}`;
  const tlsPort = await freeTcpPort();
  const upstreams = ADDRESSES.map((address) => `${address}:${replicaPort}`);
  nginx = await startNginx({
    listen,
    upstreams,
    tls: { listen: `127.0.0.1:${tlsPort}`, pemPath: tls.serverPemPath, redirectPort: tlsPort },
    workDir: join(workDir, 'nginx'),
    logFile: join(workDir, 'nginx.log'),
  });
  const proxy = nginx;
  await rotateUnderClients({
    url: proxy.url,
    // Same upstreams: re-render, nginx -t, SIGHUP; resolves once only new workers accept.
    reload: () => proxy.setUpstreams(upstreams),
    workers: () => proxy.workerPids(),
    spreads: false,
  });
});
