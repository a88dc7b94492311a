import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import {
  bindToConnectAddress,
  checkHaproxyConfig,
  HAPROXY_CONFIG_PATH,
  HAPROXY_ENV_VARS,
  HAPROXY_TLS_ENV_VARS,
  HaproxyConfigError,
  HaproxyEnvError,
  haproxyEnv,
  parseHaproxyStatsCsv,
  startHaproxy,
} from './haproxy.ts';

const OPTIONS = {
  proxyBind: '127.0.0.1:18080',
  statsBind: '127.0.0.1:18404',
  statsUser: 'ops',
  statsPassword: 'pw-1',
  dnsNameserver: '127.0.0.1:15353',
  serviceName: 'replicas.wsk.test',
  serverPort: 3000,
  cookieKey: 'k3y',
};

describe('haproxyEnv', () => {
  test('maps options to the WSK_* contract of haproxy.cfg', () => {
    assert.deepEqual(haproxyEnv(OPTIONS), {
      WSK_PROXY_BIND: '127.0.0.1:18080',
      WSK_STATS_BIND: '127.0.0.1:18404',
      WSK_STATS_USER: 'ops',
      WSK_STATS_PASSWORD: 'pw-1',
      WSK_DNS_NAMESERVER: '127.0.0.1:15353',
      WSK_SERVICE_NAME: 'replicas.wsk.test',
      WSK_SERVER_PORT: '3000',
      WSK_COOKIE_KEY: 'k3y',
    });
  });

  test('TLS adds the optional variables; the public port defaults to the bind\'s', () => {
    const env = haproxyEnv({ ...OPTIONS, tls: { bind: '127.0.0.1:18443', pemPath: '/run/secrets/wsk_tls_pem' } });
    assert.equal(env.WSK_TLS_CERT, '/run/secrets/wsk_tls_pem');
    assert.equal(env.WSK_TLS_BIND, '127.0.0.1:18443');
    assert.equal(env.WSK_TLS_PUBLIC_PORT, '18443');
    assert.equal(env.WSK_COOKIE_SAMESITE_NONE, undefined);
    const cross = haproxyEnv({ ...OPTIONS, tls: { bind: '*:8443', pemPath: '/p.pem', publicPort: 443, sameSiteNone: true } });
    assert.equal(cross.WSK_TLS_PUBLIC_PORT, '443');
    assert.equal(cross.WSK_COOKIE_SAMESITE_NONE, '1');
    assert.throws(
      () => haproxyEnv({ ...OPTIONS, tls: { bind: 'nope', pemPath: 'a b.pem' } }),
      (error: unknown) => error instanceof HaproxyEnvError && error.problems.length === 3,
    );
  });

  test('compose and swarm values are accepted as-is', () => {
    const compose = haproxyEnv({ ...OPTIONS, proxyBind: '*:8080', dnsNameserver: '127.0.0.11:53', serviceName: 'server' });
    assert.equal(compose.WSK_PROXY_BIND, '*:8080');
    assert.equal(haproxyEnv({ ...OPTIONS, serviceName: 'tasks.server' }).WSK_SERVICE_NAME, 'tasks.server');
  });

  test('stats user defaults to "wsk", password to a fresh random secret', () => {
    const { statsUser: _u, statsPassword: _p, ...rest } = OPTIONS;
    const a = haproxyEnv(rest);
    const b = haproxyEnv(rest);
    assert.equal(a.WSK_STATS_USER, 'wsk');
    assert.ok(a.WSK_STATS_PASSWORD.length >= 12);
    assert.notEqual(a.WSK_STATS_PASSWORD, b.WSK_STATS_PASSWORD);
  });

  test('reports every problem at once', () => {
    assert.throws(
      () =>
        haproxyEnv({
          proxyBind: '8080',
          statsBind: '127.0.0.1:99999',
          dnsNameserver: 'dns.local:53',
          serviceName: 'bad name',
          serverPort: 0,
          cookieKey: 'has "quote"',
          statsPassword: '',
        }),
      (error: unknown) => {
        assert.ok(error instanceof HaproxyEnvError);
        assert.equal(error.code, 'HAPROXY_ENV_INVALID');
        assert.equal(error.problems.length, 7, error.message);
        for (const word of ['proxyBind', 'statsBind', 'dnsNameserver', 'serviceName', 'serverPort', 'cookieKey', 'statsPassword']) {
          assert.match(error.message, new RegExp(word));
        }
        return true;
      },
    );
  });
});

describe('bindToConnectAddress', () => {
  test('wildcards connect through loopback', () => {
    assert.deepEqual(bindToConnectAddress('*:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(bindToConnectAddress(':8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(bindToConnectAddress('0.0.0.0:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(bindToConnectAddress('127.0.0.1:18080'), { host: '127.0.0.1', port: 18080 });
    assert.throws(() => bindToConnectAddress('nope'), /host:port/);
  });
});

describe('parseHaproxyStatsCsv', () => {
  // Shape of 2.6's `/stats;csv` (columns trimmed; the parser looks them up by name).
  const CSV = [
    '# pxname,svname,qcur,scur,stot,status,check_status,addr,cookie,',
    'wsk,FRONTEND,,1,9,OPEN,,,,',
    'replicas,replica1,0,2,7,UP,L7OK,127.0.1.2:3000,62ea2f8ad2bdaf66,',
    'replicas,replica2,0,0,1,UP 1/2,L7STS,127.0.1.1:3000,6d97eb9f27eb86f3,',
    'replicas,replica3,0,0,0,MAINT (resolution),,,,',
    'replicas,replica4,0,0,0,DOWN,L4CON,127.0.1.4:3000,aa,',
    'replicas,replica5,0,0,0,DRAIN,L7OK,127.0.1.5:3000,bb,',
    'replicas,BACKEND,0,2,8,UP,,,,',
    'stats,FRONTEND,,0,3,OPEN,,,,',
    '',
  ].join('\n');

  test('returns the backend slots with normalized status', () => {
    const states = parseHaproxyStatsCsv(CSV);
    assert.deepEqual(
      states.map((s) => [s.name, s.address, s.status, s.rawStatus]),
      [
        ['replica1', '127.0.1.2:3000', 'UP', 'UP'],
        ['replica2', '127.0.1.1:3000', 'UP', 'UP 1/2'],
        ['replica3', '', 'MAINT', 'MAINT (resolution)'],
        ['replica4', '127.0.1.4:3000', 'DOWN', 'DOWN'],
        ['replica5', '127.0.1.5:3000', 'DRAIN', 'DRAIN'],
      ],
    );
    assert.deepEqual(states[0], {
      name: 'replica1',
      address: '127.0.1.2:3000',
      status: 'UP',
      rawStatus: 'UP',
      cookie: '62ea2f8ad2bdaf66',
      currentSessions: 2,
      totalSessions: 7,
      checkStatus: 'L7OK',
    });
  });

  test('rejects what is not stats CSV, or lacks a needed column', () => {
    assert.throws(() => parseHaproxyStatsCsv('<html>401</html>'), /not HAProxy stats CSV/);
    assert.throws(() => parseHaproxyStatsCsv('# pxname,svname,status\n'), /no "addr" column/);
  });
});

describe('haproxy.cfg contract', () => {
  test('uses exactly the documented WSK_* variables, each documented in its header', async () => {
    const text = await readFile(HAPROXY_CONFIG_PATH, 'utf8');
    const config = text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    const used = new Set([...config.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), [...HAPROXY_ENV_VARS, ...HAPROXY_TLS_ENV_VARS].sort());
    const header = text.slice(0, text.indexOf('\nglobal'));
    for (const name of [...HAPROXY_ENV_VARS, ...HAPROXY_TLS_ENV_VARS]) assert.match(header, new RegExp(`#\\s+${name}\\s`), `${name} undocumented`);
  });

  test('haproxy -c accepts the real file with the variables set', async () => {
    await checkHaproxyConfig(HAPROXY_CONFIG_PATH, haproxyEnv(OPTIONS));
  });

  test('haproxy -c failure is reported with the command and HAProxy alerts', async () => {
    const env = { ...haproxyEnv(OPTIONS), WSK_DNS_NAMESERVER: '' };
    await assert.rejects(checkHaproxyConfig(HAPROXY_CONFIG_PATH, env), (error: unknown) => {
      assert.ok(error instanceof HaproxyConfigError);
      assert.match(error.message, /haproxy -c -f .*haproxy\.cfg/);
      assert.match(error.message, /nameserver/);
      return true;
    });
  });

  test('startHaproxy refuses a missing variable before running anything', async () => {
    const { WSK_COOKIE_KEY: _drop, ...env } = haproxyEnv(OPTIONS);
    await assert.rejects(startHaproxy({ env }), /WSK_COOKIE_KEY is not set/);
  });
});
