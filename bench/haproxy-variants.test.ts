/**
 * Every relay variant is haproxy.cfg plus one change, and HAProxy itself
 * accepts each one (`haproxy -c`, the same check as scripts/check.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';
import { c50kHaproxyConfig, c50kSourceAddress } from './c50k.ts';
import { haproxyTransform, RELAY_KINDS, toTcpMode } from './haproxy-variants.ts';

const shipped = await readFile(join(REPO_ROOT, 'haproxy/haproxy.cfg'), 'utf8');
const dir = await mkdtemp(join(tmpdir(), 'wsk-haproxy-variants-'));
after(() => rm(dir, { recursive: true, force: true }));

async function check(config: string, name: string): Promise<void> {
  const file = join(dir, `${name}.cfg`);
  await writeFile(file, config);
  execFileSync('haproxy', ['-c', '-q', '-f', file], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      WSK_PROXY_BIND: '127.0.0.1:18080',
      WSK_STATS_BIND: '127.0.0.1:18404',
      WSK_STATS_USER: 'u',
      WSK_STATS_PASSWORD: 'p',
      WSK_DNS_NAMESERVER: '127.0.0.1:5353',
      WSK_SERVICE_NAME: 'replicas.wsk.test',
      WSK_SERVER_PORT: '3000',
      WSK_COOKIE_KEY: 'k',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('haproxy relay variants', () => {
  it('mode tcp keeps the bind, the balance, the health check and the server line, and drops HTTP-only rules', () => {
    const tcp = toTcpMode(shipped);
    const frontend = /^frontend wsk\n([\s\S]*?)^backend replicas/m.exec(tcp)?.[1] ?? '';
    const backend = /^backend replicas\n([\s\S]*?)^userlist/m.exec(tcp)?.[1] ?? '';
    assert.match(frontend, /^\s+mode tcp$/m);
    assert.match(frontend, /bind "\$\{WSK_PROXY_BIND\}"/);
    assert.doesNotMatch(frontend, /http-request|httplog/);
    assert.match(backend, /^\s+mode tcp$/m);
    assert.match(backend, /balance leastconn/);
    assert.match(backend, /http-check send meth GET uri \/readyz/);
    assert.match(backend, /server-template replica 16 /);
    assert.doesNotMatch(backend, /cookie WSKSRV/);
    // The stats frontend (read by the runner) is untouched.
    assert.equal(tcp.slice(tcp.indexOf('userlist stats_users')), shipped.slice(shipped.indexOf('userlist stats_users')));
  });

  it('each HTTP variant is the shipped file plus only its own lines', () => {
    assert.equal(haproxyTransform('haproxy-http')(shipped), shipped);
    const expected = { 'haproxy-http-nbthread1': ['    nbthread 1'], 'haproxy-http-splice': ['    maxpipes 1000', '    option splice-auto'] };
    for (const [kind, lines] of Object.entries(expected) as Array<[keyof typeof expected, string[]]>) {
      const variant = haproxyTransform(kind)(shipped).split('\n');
      const added = variant.filter((line) => !shipped.split('\n').includes(line));
      assert.deepEqual(added, lines, kind);
      assert.equal(variant.length, shipped.split('\n').length + lines.length);
    }
  });

  it('HAProxy accepts every variant (haproxy -c)', async () => {
    for (const kind of RELAY_KINDS) {
      if (kind !== 'node-tcp') await check(haproxyTransform(kind)(shipped), kind);
    }
  });

  it('the c50k copy changes maxconn and, with own sources, adds one source line to the backend; HAProxy accepts both', async () => {
    const plain = c50kHaproxyConfig(shipped, 8434).split('\n');
    const lines = shipped.split('\n');
    assert.deepEqual(
      plain.filter((line) => !lines.includes(line)),
      ['    maxconn 8434'],
    );
    const sourced = c50kHaproxyConfig(shipped, 8434, c50kSourceAddress(2));
    const backend = /^backend replicas\n([\s\S]*?)^userlist/m.exec(sourced)?.[1] ?? '';
    assert.match(backend, /^ {4}balance leastconn\n {4}source 127\.0\.3\.3$/m);
    assert.equal(sourced.split('\n').length, lines.length + 1);
    assert.throws(() => c50kHaproxyConfig('global\n', 10), /no global maxconn/);
    assert.throws(() => c50kSourceAddress(254), RangeError);
    await check(c50kHaproxyConfig(shipped, 8434), 'c50k');
    await check(sourced, 'c50k-source');
  });
});
