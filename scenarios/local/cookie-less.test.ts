import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CookieLessTransformError, withoutCookieAffinity } from './cookie-less.ts';
import { checkHaproxyConfig, HAPROXY_CONFIG_PATH, haproxyEnv } from './haproxy.ts';

const real = await readFile(HAPROXY_CONFIG_PATH, 'utf8');
const directives = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

describe('withoutCookieAffinity (negative control) on the real haproxy.cfg', () => {
  const derived = withoutCookieAffinity(real);

  test('has no cookie directive, no dynamic-cookie-key, and balances roundrobin', () => {
    const lines = directives(derived);
    assert.equal(lines.filter((l) => /^cookie\s/.test(l)).length, 0);
    assert.equal(lines.filter((l) => /^dynamic-cookie-key\s/.test(l)).length, 0);
    assert.deepEqual(
      lines.filter((l) => /^balance\s/.test(l)),
      ['balance roundrobin'],
    );
  });

  test('differs from the real file in exactly those three directives', () => {
    const before = directives(real);
    const after = directives(derived);
    const removed = before.filter((l) => !after.includes(l));
    const added = after.filter((l) => !before.includes(l));
    // The cookie line of each TLS flavour (.if blocks), the key, the balance.
    const cookieLines = removed.filter((l) => l.startsWith('cookie WSKSRV insert'));
    assert.equal(cookieLines.length, 3, removed.join('\n'));
    assert.equal(removed.length, 5, removed.join('\n'));
    assert.ok(removed.some((l) => l.startsWith('dynamic-cookie-key')));
    assert.ok(removed.includes('balance leastconn'));
    assert.deepEqual(added, ['balance roundrobin']);
  });

  test('still passes haproxy -c', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsk-cookieless-'));
    try {
      const path = join(dir, 'haproxy-no-cookie.cfg');
      await writeFile(path, derived);
      await checkHaproxyConfig(
        path,
        haproxyEnv({
          proxyBind: '127.0.0.1:18080',
          statsBind: '127.0.0.1:18404',
          dnsNameserver: '127.0.0.1:15353',
          serviceName: 'replicas.wsk.test',
          serverPort: 3000,
          cookieKey: 'k',
        }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('withoutCookieAffinity refuses to produce a vacuous control', () => {
  const base = [
    'backend replicas',
    '    # the cookie line below pins sessions',
    '    balance leastconn',
    '    cookie WSKSRV insert indirect nocache dynamic',
    `    dynamic-cookie-key "\${WSK_COOKIE_KEY}"`,
    '    server-template replica 4 "x:1"',
    '',
  ].join('\n');

  test('works on a minimal literal and ignores comments that mention cookies', () => {
    assert.equal(
      withoutCookieAffinity(base),
      [
        'backend replicas',
        '    # the cookie line below pins sessions',
        '    balance roundrobin',
        '    # NEGATIVE CONTROL: cookie affinity removed (scenarios/local/cookie-less.ts)',
        '    # (dynamic-cookie-key removed with it)',
        '    server-template replica 4 "x:1"',
        '',
      ].join('\n'),
    );
  });

  for (const [what, text, pattern] of [
    ['no cookie line', base.replace(/ {4}cookie .*\n/, ''), /one to three `cookie …` lines .*found 0/],
    ['no dynamic-cookie-key', base.replace(/ {4}dynamic-cookie-key .*\n/, ''), /dynamic-cookie-key …` line, found 0/],
    ['no balance line', base.replace(/ {4}balance .*\n/, ''), /`balance …` line, found 0/],
    ['two balance lines', base.replace('    balance leastconn', '    balance leastconn\n    balance source'), /found 2/],
    ['a prefix cookie (inserts nothing)', base.replace('insert indirect nocache dynamic', 'prefix'), /does not insert/],
  ] as const) {
    test(`throws on ${what}`, () => {
      assert.throws(() => withoutCookieAffinity(text), (error: unknown) => {
        assert.ok(error instanceof CookieLessTransformError);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }
});
