import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../scenarios/lib/repo-root.ts';

/**
 * `make check` (scripts/check.sh) must pass on the tree as it is and FAIL
 * when any deployable file is broken: otherwise it proves nothing. Each case
 * copies the tree to a temp dir, breaks one file there and runs the script.
 */

const run = promisify(execFile);

interface CheckRun {
  code: number;
  output: string;
}

async function copyTree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsk-check-test-'));
  // Tracked and untracked-but-not-ignored files: what a clone plus work in progress holds.
  const { stdout } = await run('git', ['-C', REPO_ROOT, 'ls-files', '-co', '--exclude-standard', '-z']);
  const files = stdout.split('\0').filter((file) => file !== '');
  for (const file of files) {
    await cp(join(REPO_ROOT, file), join(dir, file), { recursive: true, force: true }).catch((error: NodeJS.ErrnoException) => {
      // A file deleted since `git ls-files` ran (another session at work) is not ours to copy.
      if (error.code !== 'ENOENT') throw error;
    });
  }
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

async function runCheck(dir: string): Promise<CheckRun> {
  try {
    const { stdout, stderr } = await run('bash', [join(dir, 'scripts', 'check.sh')], { cwd: dir, timeout: 120_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

async function edit(dir: string, file: string, change: (text: string) => string): Promise<void> {
  const path = join(dir, file);
  const before = await readFile(path, 'utf8');
  const after = change(before);
  assert.notEqual(after, before, `the break did not change ${file}`);
  await writeFile(path, after);
}

/** Break one file in a fresh copy, run check.sh, expect exit 1 and a FAIL line matching `failLine`. */
async function expectFailure(
  file: string,
  change: (text: string) => string,
  failLine: RegExp,
): Promise<void> {
  const dir = await copyTree();
  try {
    await edit(dir, file, change);
    const result = await runCheck(dir);
    assert.equal(result.code, 1, `check.sh should fail when ${file} is broken:\n${result.output}`);
    assert.match(result.output, failLine, result.output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('scripts/check.sh', { concurrency: true }, () => {
  let pristine = '';
  before(async () => {
    pristine = await copyTree();
  });
  after(async () => {
    if (pristine) await rm(pristine, { recursive: true, force: true });
  });

  it('passes on the tree as it is', async () => {
    const result = await runCheck(pristine);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /check: all passed/);
    assert.doesNotMatch(result.output, /^FAIL/m);
  });

  it('fails when haproxy.cfg has an invalid directive', async () => {
    await expectFailure(
      'haproxy/haproxy.cfg',
      (text) => text.replace('    balance leastconn', '    balance leastconn\n    cookie-monster on'),
      /^FAIL {2}haproxy -c haproxy\/haproxy\.cfg \(compose/m,
    );
  });

  it('fails when only the TLS branch of haproxy.cfg is broken', async () => {
    // Inside `.if` TLS: the plain checks skip it, the TLS checks must parse it.
    await expectFailure(
      'haproxy/haproxy.cfg',
      (text) => text.replace(/^( {4}bind "\$\{WSK_TLS_BIND\}" ssl crt .*)$/m, '$1\n    cookie-monster on'),
      /^FAIL {2}haproxy -c haproxy\/haproxy\.cfg \(compose \+ TLS/m,
    );
  });

  it('fails when haproxy.cfg reads a variable the Docker files do not set', async () => {
    await expectFailure(
      'haproxy/haproxy.cfg',
      (text) => text.replace('    maxconn 8000', `    maxconn "\${WSK_MAXCONN}"`),
      /^FAIL {2}haproxy variables all set in docker-compose\.yml\n {6}not set: WSK_MAXCONN/m,
    );
  });

  it('fails when the nginx template does not parse', async () => {
    await expectFailure(
      'nginx/nginx.conf.template',
      (text) => text.replace('proxy_http_version 1.1;', 'proxy_http_version 1.1'),
      /^FAIL {2}nginx -t nginx\/nginx\.conf\.template/m,
    );
  });

  it('fails when docker-compose.yml has an unknown option', async () => {
    await expectFailure(
      'docker-compose.yml',
      (text) => text.replace(/^ {2}server:\n/m, '  server:\n    restartt: always\n'),
      /^FAIL {2}docker-compose config -q.*\n(?:.*\n){0,3}.*Unsupported config option for services\.server: 'restartt'/m,
    );
  });

  it('fails when a secret gets a default in docker-compose.yml', async () => {
    // Read, not written here: a literal placeholder in this file would itself fail the check.
    const placeholder = /^WSK_COOKIE_KEY=(.+)$/m.exec(await readFile(join(REPO_ROOT, '.env.example'), 'utf8'))?.[1];
    assert.ok(placeholder, '.env.example sets WSK_COOKIE_KEY');
    await expectFailure(
      'docker-compose.yml',
      (text) => text.replace(/\$\{WSK_COOKIE_KEY:\?[^}]*\}/, `\${WSK_COOKIE_KEY:-${placeholder}}`),
      /^FAIL {2}no committed secrets[^\n]*\n(.*\n)*.*placeholder for WSK_COOKIE_KEY found outside \.env\.example/m,
    );
  });

  it('fails when an alert expression no longer does what its unit tests expect', async () => {
    await expectFailure(
      'prometheus/alerts.yml',
      (text) => text.replace('expr: haproxy_backend_active_servers{proxy="replicas"} == 0', 'expr: haproxy_backend_active_servers{proxy="replicas"} == 1'),
      /^FAIL {2}promtool test rules .*\n(?:.*\n)*.*alertname: NoReplicas/m,
    );
  });

  it('fails when the Grafana admin password gets a default', async () => {
    await expectFailure(
      'docker-compose.yml',
      (text) => text.replace(/\$\{WSK_GRAFANA_ADMIN_PASSWORD:\?[^}]*\}/, `\${WSK_GRAFANA_ADMIN_PASSWORD:-admin}`),
      /^FAIL {2}no committed secrets[^\n]*\n(.*\n)*.*secret with a default value/m,
    );
  });

  it('fails when the stack file breaks the schema', async () => {
    await expectFailure(
      'stack/docker-stack.yml',
      (text) => text.replace('order: start-first', 'order: sideways'),
      /^FAIL {2}docker stack config -c stack\/docker-stack\.yml/m,
    );
  });

  it('fails when the stack publishes through the ingress mesh', async () => {
    await expectFailure(
      'stack/docker-stack.yml',
      (text) => text.replace('mode: host', 'mode: ingress'),
      /^FAIL {2}stack: HAProxy resolves tasks\.server, ports in host mode\n {6}1 published port\(s\) without mode: host/m,
    );
  });

  it('fails when the HAProxy stats port is published', async () => {
    await expectFailure(
      'docker-compose.yml',
      (text) => text.replace(/^( {6}- ".*:8080"\n)/m, '$1      - "8404:8404"\n'),
      /^FAIL {2}not exposed: [^\n]*\n {6}docker-compose\.yml: the HAProxy stats port 8404 is published/m,
    );
  });

  it('fails when Redis is published on Swarm', async () => {
    await expectFailure(
      'stack/docker-stack.yml',
      (text) => text.replace(/^( {4}networks: \[wsk\]\n)/m, '    ports:\n      - target: 6379\n        published: 6379\n$1'),
      /^FAIL {2}not exposed: [^\n]*\n {6}stack\/docker-stack\.yml: redis publishes a port/m,
    );
  });

  it('fails when the stats page stops asking for credentials', async () => {
    await expectFailure(
      'haproxy/haproxy.cfg',
      (text) => text.replace(/^ *http-request auth realm .*$/m, ''),
      /^FAIL {2}not exposed: [^\n]*\n {6}haproxy\/haproxy\.cfg: the stats frontend does not demand basic auth/m,
    );
  });

  it('fails when the image would run as root', async () => {
    await expectFailure(
      'Dockerfile',
      (text) => text.replace(/^USER node$/m, 'USER root'),
      /^FAIL {2}Dockerfile: [^\n]*\n {6}final USER is 'root'/m,
    );
  });

  it('fails when a base image is not pinned', async () => {
    await expectFailure(
      'Dockerfile',
      (text) => text.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:20-bookworm-slim'),
      /base image not pinned to x\.y\.z: node:20-bookworm-slim/,
    );
  });

  it('fails when a Kubernetes overlay breaks a rule (liveness tied to Redis)', async () => {
    // Each rule is broken in turn in scripts/k8s-check/*.test.ts; this proves check.sh reports it.
    await expectFailure(
      'k8s/base/server-deployment.yaml',
      (text) => text.replace(/(livenessProbe:\n +httpGet:\n +path: )\/healthz/, '$1/readyz'),
      /^FAIL {2}kustomize \+ schema \+ strict keys \+ rules: k8s\/overlays\/haproxy\n(.*\n)*.*probes: Deployment\/server livenessProbe must probe \/healthz, not \/readyz/m,
    );
  });
});
