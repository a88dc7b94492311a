/**
 * HAProxy configurations the relay-floor stage measures, each derived from
 * haproxy/haproxy.cfg by a pure text transform (so every variant is the
 * shipped file plus exactly one change).
 */

export type RelayKind = 'haproxy-http' | 'haproxy-tcp' | 'node-tcp' | 'haproxy-http-nbthread1' | 'haproxy-http-splice';

export const RELAY_KINDS: readonly RelayKind[] = [
  'node-tcp',
  'haproxy-tcp',
  'haproxy-http',
  'haproxy-http-nbthread1',
  'haproxy-http-splice',
];

/** What each relay is, for tables. */
export const RELAY_LABELS: Record<RelayKind, string> = {
  'node-tcp': 'Node net relay (pipe)',
  'haproxy-tcp': 'HAProxy mode tcp',
  'haproxy-http': 'HAProxy http (haproxy.cfg)',
  'haproxy-http-nbthread1': 'HAProxy http, nbthread 1',
  'haproxy-http-splice': 'HAProxy http, option splice-auto',
};

/** Insert `line` into the `global` section (after its header). */
function inGlobal(config: string, line: string): string {
  if (!/^global\s*$/m.test(config)) throw new Error('haproxy.cfg has no global section');
  return config.replace(/^global\s*$/m, `global\n    ${line}`);
}

/**
 * haproxy.cfg with the client-facing frontend and the replicas backend in
 * `mode tcp`: bytes relayed, no HTTP parsing, no cookie, no WebSocket
 * tunnel switch. The server line, balance and health check are kept; the
 * stats frontend stays HTTP (the runner reads it).
 */
export function toTcpMode(config: string): string {
  // A section runs to the next unindented line; the TLS `.if` / `.elif` /
  // `.else` / `.endif` blocks inside them belong to the section (and go with it).
  const frontend = /^frontend wsk\n(?:[ \t]+.*\n|\s*\n|\.(?:if|elif|else|endif)\b.*\n)*/m;
  const backend = /^backend replicas\n(?:[ \t]+.*\n|\s*\n|\.(?:if|elif|else|endif)\b.*\n)*/m;
  const server = /^\s*server-template .*$/m.exec(config)?.[0];
  const bind = /^\s*bind "\$\{WSK_PROXY_BIND\}".*$/m.exec(config)?.[0];
  if (!frontend.test(config) || !backend.test(config) || !server || !bind) {
    throw new Error('haproxy.cfg: frontend wsk / backend replicas / server-template / bind not found');
  }
  return config
    .replace(frontend, `frontend wsk\n    mode tcp\n${bind}\n    default_backend replicas\n\n`)
    .replace(
      backend,
      [
        'backend replicas',
        '    mode tcp',
        '    balance leastconn',
        '    option httpchk',
        '    http-check send meth GET uri /readyz',
        '    http-check expect status 200',
        '    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 1',
        server,
        '',
        '',
      ].join('\n'),
    );
}

/** The transform for an HAProxy relay kind (identity for the shipped config). */
export function haproxyTransform(kind: Exclude<RelayKind, 'node-tcp'>): (config: string) => string {
  switch (kind) {
    case 'haproxy-http':
      return (config) => config;
    case 'haproxy-tcp':
      return toTcpMode;
    case 'haproxy-http-nbthread1':
      return (config) => inGlobal(config, 'nbthread 1');
    case 'haproxy-http-splice':
      // Kernel splice() between the two sockets of a tunnel instead of copies
      // through HAProxy's buffers. Pipes take descriptors too: by default
      // maxconn/4 of them, which overruns the bench's 20,000 open files.
      return (config) => inGlobal(config.replace(/^defaults\s*$/m, 'defaults\n    option splice-auto'), 'maxpipes 1000');
  }
}
