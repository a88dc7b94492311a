import { parseArgs } from 'node:util';
import { z } from 'zod';

/** Defaults in one place; the README's table is written from these. */
export const DEFAULTS = {
  topology: 'local',
  proxy: 'haproxy',
  adapter: 'redis',
  redis: 'standalone',
  replicas: 3,
  clients: 60,
} as const;

const schema = z.object({
  topology: z.enum(['local', 'compose', 'swarm', 'k8s']),
  proxy: z.enum(['haproxy', 'nginx']),
  adapter: z.enum(['redis', 'redis-sharded', 'redis-streams']),
  redis: z.enum(['standalone', 'sentinel', 'cluster']),
  replicas: z.coerce.number().int().min(1).max(16),
  clients: z.coerce.number().int().min(2).max(5000),
  only: z.array(z.string().min(1)).optional(),
  json: z.string().min(1).optional(),
  logDir: z.string().min(1).optional(),
  tls: z.boolean(),
})
  .refine((options) => !options.tls || options.topology === 'local', {
    path: ['tls'],
    error: 'runs on the local topology only (Compose / Swarm: see docs/tls.md for giving the proxy a certificate)',
  })
  .refine((options) => options.redis !== 'cluster' || options.topology === 'local', {
    path: ['redis'],
    error: 'cluster runs on the local topology only (Compose and Swarm have a Sentinel variant: --redis sentinel)',
  })
  .refine((options) => options.redis !== 'sentinel' || options.topology !== 'k8s', {
    path: ['redis'],
    error: 'sentinel runs on the local, compose and swarm topologies (docker-compose.sentinel.yml, stack/docker-stack.sentinel.yml)',
  });

export type RunnerOptions = z.infer<typeof schema>;

export class UsageError extends Error {
  readonly code = 'USAGE';
}

export const SCENARIOS_USAGE = `usage: npm run scenarios -- [--topology local|compose|swarm|k8s] [--proxy haproxy|nginx]
       [--adapter redis|redis-sharded|redis-streams] [--redis standalone|sentinel|cluster] [--replicas N] [--clients N]
       [--only a,b] [--json FILE] [--log-dir DIR] [--tls]`;

/**
 * Parse runner flags strictly: an unknown flag or a bad value is a UsageError
 * listing every problem at once, so a typo never runs a different experiment.
 */
export function parseRunnerArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): RunnerOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        topology: { type: 'string' },
        proxy: { type: 'string' },
        adapter: { type: 'string' },
        redis: { type: 'string' },
        replicas: { type: 'string' },
        clients: { type: 'string' },
        only: { type: 'string' },
        json: { type: 'string' },
        'log-dir': { type: 'string' },
        tls: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const only = typeof values.only === 'string' ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const parsed = schema.safeParse({
    topology: values.topology ?? env.WSK_TOPOLOGY ?? DEFAULTS.topology,
    proxy: values.proxy ?? env.WSK_PROXY ?? DEFAULTS.proxy,
    adapter: values.adapter ?? env.ADAPTER ?? DEFAULTS.adapter,
    redis: values.redis ?? env.WSK_REDIS ?? DEFAULTS.redis,
    replicas: values.replicas ?? DEFAULTS.replicas,
    clients: values.clients ?? DEFAULTS.clients,
    only,
    json: values.json,
    logDir: values['log-dir'],
    tls: values.tls === true,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `--${issue.path.join('.') || '?'}: ${issue.message}`);
    throw new UsageError(problems.join('\n'));
  }
  return parsed.data;
}
