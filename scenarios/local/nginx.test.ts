import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  composeNginxVars,
  listenToConnectAddress,
  localNginxVars,
  NGINX_TEMPLATE_PATH,
  NGINX_TEMPLATE_VARS,
  NginxCommandError,
  NginxTemplateError,
  nextUpstreams,
  nginxTlsVars,
  renderNginxConfig,
  testNginxConfig,
  upstreamServerLines,
} from './nginx.ts';

const template = await readFile(NGINX_TEMPLATE_PATH, 'utf8');

describe('renderNginxConfig', () => {
  test(`replaces \${WSK_*} and leaves Nginx variables alone`, () => {
    const out = renderNginxConfig(`listen \${WSK_A}; set $x $http_upgrade; # \${name} $host`, { WSK_A: '8081' });
    assert.equal(out, `listen 8081; set $x $http_upgrade; # \${name} $host`);
  });

  test('an empty value is a value (an optional directive left out)', () => {
    assert.equal(renderNginxConfig(`a\n\${WSK_R}\nb`, { WSK_R: '' }), 'a\n\nb');
  });

  test('lists every problem: missing value, unused value, unbraced placeholder', () => {
    assert.throws(
      () => renderNginxConfig(`\${WSK_A} \${WSK_B} $WSK_C`, { WSK_A: 'x', WSK_TYPO: 'y' }),
      (error: unknown) => {
        assert.ok(error instanceof NginxTemplateError);
        assert.deepEqual(error.problems, [
          `no value for \${WSK_B}`,
          'value given for WSK_TYPO, which the template does not use',
          `write $WSK_C as \${WSK_C} (only the braced form is a placeholder)`,
        ]);
        return true;
      },
    );
  });
});

describe('upstream list', () => {
  test('server lines, removed replicas kept as down, placeholder when empty', () => {
    assert.equal(
      upstreamServerLines([
        { address: '127.0.1.1:3000', down: false },
        { address: '127.0.1.2:3000', down: true },
      ]),
      'server 127.0.1.1:3000; server 127.0.1.2:3000 down;',
    );
    assert.equal(upstreamServerLines([]), 'server 127.0.0.1:9 down;');
  });

  test('nextUpstreams keeps positions, marks leavers down, appends newcomers, revives returners', () => {
    const one = nextUpstreams([], ['a:1', 'b:1']);
    assert.deepEqual(one, [
      { address: 'a:1', down: false },
      { address: 'b:1', down: false },
    ]);
    const two = nextUpstreams(one, ['b:1', 'c:1']);
    assert.deepEqual(two, [
      { address: 'a:1', down: true },
      { address: 'b:1', down: false },
      { address: 'c:1', down: false },
    ]);
    assert.deepEqual(nextUpstreams(two, ['a:1', 'c:1']), [
      { address: 'a:1', down: false },
      { address: 'b:1', down: true },
      { address: 'c:1', down: false },
    ]);
  });

  test('listenToConnectAddress', () => {
    assert.deepEqual(listenToConnectAddress('8081'), { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(listenToConnectAddress('*:8081'), { host: '127.0.0.1', port: 8081 });
    assert.deepEqual(listenToConnectAddress('127.0.0.1:18081'), { host: '127.0.0.1', port: 18081 });
    assert.throws(() => listenToConnectAddress('[::]:80 ipv6only=on'), /unsupported/);
  });
});

describe('nginx/nginx.conf.template', () => {
  test('uses exactly the documented variables, each documented in its header', () => {
    const config = template
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    const used = new Set([...config.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), [...NGINX_TEMPLATE_VARS].sort());
    for (const name of NGINX_TEMPLATE_VARS) assert.match(template, new RegExp(`#\\s+${name}\\s`), `${name} undocumented`);
  });

  test('carries the directives Socket.IO needs', () => {
    for (const directive of [
      /^\s+ip_hash;$/m,
      /^\s+map \$http_upgrade \$connection_upgrade \{$/m,
      /^\s+proxy_http_version 1\.1;$/m,
      /^\s+proxy_set_header Upgrade \$http_upgrade;$/m,
      /^\s+proxy_set_header Connection \$connection_upgrade;$/m,
      /^\s+proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;$/m,
      /^\s+proxy_set_header X-Forwarded-Proto \$scheme;$/m,
      /^\s+proxy_buffering off;$/m,
      /^\s+zone replicas \d+k;$/m,
    ]) {
      assert.match(template, directive);
    }
    // The value (production: NGINX_DEFAULT_PROXY_TIMEOUT) is checked against
    // the heartbeat in scenarios/lib/idle-timeouts.test.ts.
    assert.match(template, /^\s+proxy_read_timeout \$\{WSK_NGINX_PROXY_TIMEOUT\};$/m);
    assert.match(template, /^\s+proxy_send_timeout \$\{WSK_NGINX_PROXY_TIMEOUT\};$/m);
  });

  test('Compose rendering: zone + resolver + `server … resolve`, what nginx >= 1.27.3 requires', () => {
    const out = renderNginxConfig(template, composeNginxVars({}));
    assert.match(out, /^\s+resolver 127\.0\.0\.11 valid=1s ipv6=off;$/m);
    assert.match(out, /upstream replicas \{[^}]*zone replicas \d+k;[^}]*server server:3000 resolve;[^}]*\}/);
    assert.match(out, /listen 8081;/);
    assert.match(out, /access_log \/dev\/stdout wsk;/);
    assert.doesNotMatch(out, /\$\{WSK_[A-Z0-9_]+\}/);
  });

  test('renderNginxConfig renders exactly as the official image\'s envsubst (filtered to ^WSK_)', async (t) => {
    const vars = composeNginxVars({});
    // The image's 20-envsubst-on-templates.sh: envsubst "$defined_envs" over the defined WSK_* names.
    const shellFormat = NGINX_TEMPLATE_VARS.map((name) => `\${${name}}`).join(' ');
    const rendered = await new Promise<string | undefined>((resolve, reject) => {
      const child = execFile('envsubst', [shellFormat], { env: { ...vars, HOST: 'h', host: 'x' } }, (error, stdout) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return resolve(undefined);
        if (error) return reject(error);
        resolve(stdout);
      });
      child.stdin?.end(template);
    });
    if (rendered === undefined) {
      t.skip('envsubst (gettext-base) is not installed');
      return;
    }
    assert.equal(renderNginxConfig(template, vars), rendered);
  });

  test('TLS variables: directives without any $, the redirect port; both empty when off', () => {
    assert.deepEqual(nginxTlsVars(undefined), { WSK_NGINX_TLS: '', WSK_NGINX_TLS_REDIRECT_PORT: '' });
    assert.deepEqual(nginxTlsVars({ listen: '8444', pemPath: '/run/secrets/wsk_tls_pem', redirectPort: 443 }), {
      WSK_NGINX_TLS: 'listen 8444 ssl; ssl_certificate /run/secrets/wsk_tls_pem; ssl_certificate_key /run/secrets/wsk_tls_pem;',
      WSK_NGINX_TLS_REDIRECT_PORT: '443',
    });
    assert.throws(() => nginxTlsVars({ listen: '8444; include /etc/x', pemPath: '/p', redirectPort: 1 }), NginxTemplateError);
    assert.throws(() => nginxTlsVars({ listen: '8444', pemPath: '/p', redirectPort: 0 }), NginxTemplateError);
  });

  test('nginx -t accepts the local rendering (Debian 1.22, static servers)', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'wsk-nginx-t-'));
    try {
      const configPath = join(workDir, 'nginx.conf');
      const vars = localNginxVars({
        listen: '127.0.0.1:18081',
        upstreams: nextUpstreams([], ['127.0.1.1:3000', '127.0.1.2:3000']),
        tempDir: workDir,
        accessLog: join(workDir, 'access.log'),
      });
      await writeFile(configPath, renderNginxConfig(template, vars));
      await testNginxConfig(workDir, configPath);
      await writeFile(configPath, renderNginxConfig(template, { ...vars, WSK_NGINX_UPSTREAM_SERVERS: 'server ;' }));
      await assert.rejects(testNginxConfig(workDir, configPath), (error: unknown) => {
        assert.ok(error instanceof NginxCommandError);
        assert.match(error.message, /nginx -p .* -t/);
        assert.match(error.message, /emerg/);
        return true;
      });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
