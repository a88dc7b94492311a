import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { type ManagedProcess, spawnManaged } from '../lib/managed-process.ts';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { waitFor } from '../lib/wait-for.ts';

/**
 * Runs Debian's nginx (1.22) on loopback from nginx/nginx.conf.template, the
 * same template Compose renders with envsubst. 1.22 cannot re-resolve
 * upstream names, so the upstream's server lines are rendered from the live
 * replicas and Nginx is reloaded (SIGHUP) when they change.
 */

export const NGINX_TEMPLATE_PATH = join(REPO_ROOT, 'nginx/nginx.conf.template');

/** The variables nginx/nginx.conf.template takes (documented at its top). */
export const NGINX_TEMPLATE_VARS = [
  'WSK_NGINX_LISTEN',
  'WSK_NGINX_UPSTREAM_SERVERS',
  'WSK_NGINX_RESOLVER',
  'WSK_NGINX_TEMP_DIR',
  'WSK_NGINX_ACCESS_LOG',
  'WSK_NGINX_TLS',
  'WSK_NGINX_TLS_REDIRECT_PORT',
  'WSK_NGINX_PROXY_TIMEOUT',
] as const;
export type NginxTemplateVar = (typeof NGINX_TEMPLATE_VARS)[number];
export type NginxTemplateVars = Readonly<Record<NginxTemplateVar, string>>;

export class NginxTemplateError extends Error {
  readonly code = 'NGINX_TEMPLATE';
  constructor(readonly problems: readonly string[]) {
    super(`cannot render the Nginx template:\n  - ${problems.join('\n  - ')}`);
    this.name = 'NginxTemplateError';
  }
}

// The placeholders this project owns: ${WSK_...}. Nginx's own variables
// ($host, $http_upgrade, …) are never of this form and are left alone, as the
// official image's envsubst (filtered to ^WSK_) leaves them.
const OWNED_PLACEHOLDER = /\$\{(WSK_[A-Z0-9_]+)\}/g;
const BARE_OWNED = /\$(WSK_[A-Z0-9_]+)\b/g;

/**
 * Replace every ${WSK_*} in `template` with `vars`. Throws, listing every
 * problem, when a ${WSK_*} has no value, when a value is given for a name the
 * template does not use (a typo would otherwise render silently), or when a
 * $WSK_* appears without braces (envsubst would replace it, we would not).
 */
export function renderNginxConfig(template: string, vars: Readonly<Record<string, string>>): string {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const match of template.matchAll(OWNED_PLACEHOLDER)) used.add(match[1]!);
  for (const name of used) {
    if (vars[name] === undefined) problems.push(`no value for \${${name}}`);
  }
  for (const name of Object.keys(vars)) {
    if (!used.has(name)) problems.push(`value given for ${name}, which the template does not use`);
  }
  for (const match of template.matchAll(BARE_OWNED)) {
    problems.push(`write $${match[1]} as \${${match[1]}} (only the braced form is a placeholder)`);
  }
  if (problems.length > 0) throw new NginxTemplateError(problems);
  return template.replace(OWNED_PLACEHOLDER, (_whole, name: string) => vars[name]!);
}

export interface NginxUpstream {
  /** "host:port" */
  address: string;
  /** Kept in the list as `down` so ip_hash keeps mapping the other clients as before. */
  down: boolean;
}

/** `server a:p; server b:p down;` — one line, the form WSK_NGINX_UPSTREAM_SERVERS takes. */
export function upstreamServerLines(upstreams: readonly NginxUpstream[]): string {
  if (upstreams.length === 0) {
    // An upstream needs at least one server; with no replica every request
    // gets 502 from this placeholder instead of Nginx refusing the config.
    return 'server 127.0.0.1:9 down;';
  }
  return upstreams.map((u) => `server ${u.address}${u.down ? ' down' : ''};`).join(' ');
}

/**
 * The next upstream list when the live set becomes `live`: known servers keep
 * their position (ip_hash maps by position), servers that left stay as `down`
 * (nginx's own advice for keeping the other clients' mapping), new ones are
 * appended. Pure.
 */
export function nextUpstreams(current: readonly NginxUpstream[], live: readonly string[]): NginxUpstream[] {
  const wanted = new Set(live);
  const next = current.map((u) => ({ address: u.address, down: !wanted.has(u.address) }));
  const known = new Set(current.map((u) => u.address));
  for (const address of live) {
    if (!known.has(address)) {
      next.push({ address, down: false });
      known.add(address);
    }
  }
  return next;
}

/** TLS for the Nginx template: an `ssl` listen with one PEM (certificate + key). */
export interface NginxTls {
  /** What the `ssl` listen takes, e.g. "127.0.0.1:18443" or "8443". */
  listen: string;
  /** PEM holding the certificate (+ chain) and its private key. */
  pemPath: string;
  /** HTTPS port clients reach, the plain-HTTP redirect's target. */
  redirectPort: number;
}

/** WSK_NGINX_TLS and WSK_NGINX_TLS_REDIRECT_PORT for `tls`, or both empty (plain HTTP). Pure. */
export function nginxTlsVars(tls: NginxTls | undefined): Pick<NginxTemplateVars, 'WSK_NGINX_TLS' | 'WSK_NGINX_TLS_REDIRECT_PORT'> {
  if (!tls) return { WSK_NGINX_TLS: '', WSK_NGINX_TLS_REDIRECT_PORT: '' };
  // The values land in directive arguments: whitespace, `;`, quotes or `$` would change the config's meaning.
  for (const [name, value] of [['listen', tls.listen], ['pemPath', tls.pemPath]] as const) {
    if (value === '' || /[\s;"'$#{}]/.test(value)) throw new NginxTemplateError([`tls.${name} must be one plain word, got "${value}"`]);
  }
  if (!Number.isInteger(tls.redirectPort) || tls.redirectPort < 1 || tls.redirectPort > 65535) {
    throw new NginxTemplateError([`tls.redirectPort must be an integer 1-65535, got ${tls.redirectPort}`]);
  }
  return {
    WSK_NGINX_TLS: `listen ${tls.listen} ssl; ssl_certificate ${tls.pemPath}; ssl_certificate_key ${tls.pemPath};`,
    WSK_NGINX_TLS_REDIRECT_PORT: String(tls.redirectPort),
  };
}
/**
 * proxy_read_timeout / proxy_send_timeout in production (docker-compose.yml
 * sets the same): above pingInterval + pingTimeout, 25 s + 20 s by default.
 */
export const NGINX_DEFAULT_PROXY_TIMEOUT = '75s';

/** The variables for the local topology (Debian's 1.22: static servers, no resolver). */
export function localNginxVars(options: {
  listen: string;
  upstreams: readonly NginxUpstream[];
  tempDir: string;
  accessLog: string;
  tls?: NginxTls | undefined;
  /** proxy_read_timeout / proxy_send_timeout (Nginx time, e.g. "2500ms"); default NGINX_DEFAULT_PROXY_TIMEOUT. */
  proxyTimeout?: string;
}): NginxTemplateVars {
  return {
    WSK_NGINX_LISTEN: options.listen,
    WSK_NGINX_UPSTREAM_SERVERS: upstreamServerLines(options.upstreams),
    WSK_NGINX_RESOLVER: '',
    WSK_NGINX_TEMP_DIR: options.tempDir,
    WSK_NGINX_ACCESS_LOG: options.accessLog,
    ...nginxTlsVars(options.tls),
    WSK_NGINX_PROXY_TIMEOUT: options.proxyTimeout ?? NGINX_DEFAULT_PROXY_TIMEOUT,
  };
}

/** The variables Compose sets (nginx >= 1.27.3 re-resolves the service name itself). */
export function composeNginxVars(options: {
  listen?: string;
  serviceName?: string;
  serverPort?: number;
  dnsServer?: string;
}): NginxTemplateVars {
  const host = options.serviceName ?? 'server';
  const port = options.serverPort ?? 3000;
  return {
    WSK_NGINX_LISTEN: options.listen ?? '8081',
    WSK_NGINX_UPSTREAM_SERVERS: `server ${host}:${port} resolve;`,
    WSK_NGINX_RESOLVER: `resolver ${options.dnsServer ?? '127.0.0.11'} valid=1s ipv6=off;`,
    WSK_NGINX_TEMP_DIR: '/var/cache/nginx',
    WSK_NGINX_ACCESS_LOG: '/dev/stdout',
    ...nginxTlsVars(undefined),
    WSK_NGINX_PROXY_TIMEOUT: NGINX_DEFAULT_PROXY_TIMEOUT,
  };
}

export class NginxCommandError extends Error {
  readonly code = 'NGINX_COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`${command} failed (exit ${exitCode}):\n${output.trim()}`);
    this.name = 'NginxCommandError';
  }
}

/** Global directives for a self-contained instance: no /run, /var/log or daemon. */
function globalDirectives(workDir: string, foreground: boolean): string {
  // As root, workers would drop to `nobody`, which cannot reach temp files in
  // a private (0700) work directory: POST bodies over 16k would fail with 500.
  // A local test instance keeps the runner's own user instead.
  const user = process.getuid?.() === 0 ? 'user root; ' : '';
  return `${foreground ? 'daemon off; ' : ''}${user}pid ${join(workDir, 'nginx.pid')};`;
}

function nginxArgs(workDir: string, configPath: string, extra: readonly string[]): string[] {
  // -p: prefix for any relative path; -e stderr: the startup error log goes to
  // our pipe rather than Debian's compiled-in default.
  return ['-p', `${workDir}/`, '-c', configPath, '-e', 'stderr', ...extra];
}

/** `nginx -t` on `configPath`; throws NginxCommandError with Nginx's output. */
export function testNginxConfig(workDir: string, configPath: string, nginxBin = 'nginx'): Promise<void> {
  const args = nginxArgs(workDir, configPath, ['-t', '-q', '-g', globalDirectives(workDir, false)]);
  const command = `${nginxBin} ${args.join(' ')}`;
  return new Promise((resolvePromise, reject) => {
    execFile(nginxBin, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (!error) return resolvePromise();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new Error(`${nginxBin} not found on PATH: install it (Debian: apt-get install -y nginx-light)`));
      }
      const exitCode = typeof error.code === 'number' ? error.code : null;
      reject(new NginxCommandError(command, exitCode, `${stdout}${stderr}` || error.message));
    });
  });
}

export interface StartNginxOptions {
  /** What `listen` takes, e.g. "127.0.0.1:18081". */
  listen: string;
  /** "host:port" of every live replica. */
  upstreams: readonly string[];
  /** Terminate TLS too (plain `listen` then only redirects); `url` becomes the https one. */
  tls?: NginxTls;
  /** Private directory for the rendered config, pid and temp files (created if missing). */
  workDir: string;
  /** Append Nginx's error log (stderr) here; the access log is <workDir>/access.log. */
  logFile?: string;
  templatePath?: string;
  nginxBin?: string;
  startTimeoutMs?: number;
  /** proxy_read_timeout / proxy_send_timeout; default NGINX_DEFAULT_PROXY_TIMEOUT (the idle-survival scenario shortens it). */
  proxyTimeout?: string;
}

export interface NginxHandle extends AsyncDisposable {
  /** Where clients connect: https:// when `tls` was given. */
  readonly url: string;
  /** The plain-HTTP listen (with `tls`, it only redirects). */
  readonly plainUrl: string;
  readonly configPath: string;
  readonly accessLog: string;
  readonly process: ManagedProcess;
  /** The upstream list as rendered now (removed replicas kept as `down`). */
  upstreams(): readonly NginxUpstream[];
  /** Route to exactly these "host:port"s: re-render, `nginx -t`, reload; resolves once new workers serve. */
  setUpstreams(addresses: readonly string[]): Promise<void>;
  /** The master's worker pids, old ones still finishing their connections ("… is shutting down") included. */
  workerPids(): Promise<number[]>;
  stop(): Promise<void>;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

/** "127.0.0.1:8081" / "8081" / "*:8081" → where a local client connects. */
export function listenToConnectAddress(listen: string): { host: string; port: number } {
  const match = /^(?:(\*|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(listen.trim());
  if (!match) throw new Error(`unsupported listen value for the local runner: "${listen}"`);
  const host = !match[1] || match[1] === '*' || match[1] === '0.0.0.0' ? '127.0.0.1' : match[1];
  return { host, port: Number(match[2]) };
}

/** Child processes of `masterPid` with their process titles ("nginx: worker process", …). Linux /proc. */
async function childProcesses(masterPid: number): Promise<Array<{ pid: number; title: string }>> {
  const children: Array<{ pid: number; title: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows "pid (comm) state"; comm may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== masterPid) continue;
      const title = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0+$/, '').replace(/\0/g, ' ');
      children.push({ pid: Number(entry), title });
    } catch {
      // The process exited while we looked.
    }
  }
  return children;
}

const ACTIVE_WORKER = /^nginx: worker process$/;

export async function startNginx(options: StartNginxOptions): Promise<NginxHandle> {
  const nginxBin = options.nginxBin ?? 'nginx';
  const workDir = resolve(options.workDir);
  const tempDir = join(workDir, 'temp');
  await mkdir(tempDir, { recursive: true });
  const template = await readFile(options.templatePath ?? NGINX_TEMPLATE_PATH, 'utf8');
  const configPath = join(workDir, 'nginx.conf');
  const accessLog = join(workDir, 'access.log');
  const { host, port } = listenToConnectAddress(options.listen);
  const tlsAt = options.tls ? listenToConnectAddress(options.tls.listen) : undefined;
  let upstreams = nextUpstreams([], options.upstreams);

  /** Render to a side file, `nginx -t` it, then move it into place: a bad list never replaces a good one. */
  const install = async (list: readonly NginxUpstream[]) => {
    const text = renderNginxConfig(
      template,
      localNginxVars({
        listen: options.listen,
        upstreams: list,
        tempDir,
        accessLog,
        tls: options.tls,
        ...(options.proxyTimeout ? { proxyTimeout: options.proxyTimeout } : {}),
      }),
    );
    const candidate = join(workDir, 'nginx.conf.next');
    await writeFile(candidate, text);
    await testNginxConfig(workDir, candidate, nginxBin);
    await rename(candidate, configPath);
  };
  await install(upstreams);

  const child = spawnManaged(nginxBin, nginxArgs(workDir, configPath, ['-g', globalDirectives(workDir, true)]), {
    name: 'nginx',
    ...(options.logFile ? { logFile: options.logFile } : {}),
  });
  const failWith = async (error: unknown): Promise<never> => {
    await child.stop(1000);
    const tail = child.output().trim().split('\n').slice(-20).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- nginx output ---\n${tail}`);
  };
  const exitedEarly = new AbortController();
  void child.exited.then(() => exitedEarly.abort(new Error(`nginx ${child.describeExit()}`)));
  try {
    await waitFor(async () => (await canConnect(host, port)) && (!tlsAt || (await canConnect(tlsAt.host, tlsAt.port))), {
      what: `nginx to accept connections on ${options.listen}`,
      timeoutMs: options.startTimeoutMs ?? 10_000,
      intervalMs: 50,
      signal: exitedEarly.signal,
    });
  } catch (error) {
    await failWith(error);
  }

  let queue: Promise<void> = Promise.resolve();
  const setUpstreams = (addresses: readonly string[]): Promise<void> => {
    // Serialized: two overlapping reloads could otherwise apply out of order.
    const run = queue.then(async () => {
      const next = nextUpstreams(upstreams, addresses);
      await install(next);
      const masterPid = child.pid;
      if (!child.running || masterPid === undefined) throw new Error(`nginx is not running (${child.describeExit()})`);
      const before = new Set((await childProcesses(masterPid)).map((c) => c.pid));
      // SIGHUP to the master only: it re-reads the config, starts new workers
      // and tells the old ones to finish their requests and exit.
      process.kill(masterPid, 'SIGHUP');
      await waitFor(
        async () => {
          if (!child.running) throw new Error(`nginx ${child.describeExit()}`);
          const workers = (await childProcesses(masterPid)).filter((c) => ACTIVE_WORKER.test(c.title));
          // Applied once every worker titled plain "worker process" is a new
          // one: an old worker retitles itself "… is shutting down" as it
          // closes its listening sockets, so from then on only new workers
          // accept connections.
          return workers.length > 0 && workers.every((w) => !before.has(w.pid));
        },
        { what: `nginx (pid ${masterPid}) to reload with upstreams [${addresses.join(', ')}]`, timeoutMs: 10_000 },
      );
      upstreams = next;
    });
    queue = run.catch(() => {});
    return run;
  };

  const stop = async () => {
    // SIGTERM to the group: fast shutdown of master and workers.
    await child.stop(3000);
  };
  return {
    url: tlsAt ? `https://${tlsAt.host}:${tlsAt.port}` : `http://${host}:${port}`,
    plainUrl: `http://${host}:${port}`,
    configPath,
    accessLog,
    process: child,
    upstreams: () => upstreams,
    setUpstreams,
    async workerPids() {
      if (child.pid === undefined) return [];
      return (await childProcesses(child.pid)).filter((c) => c.title.startsWith('nginx: worker process')).map((c) => c.pid);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
