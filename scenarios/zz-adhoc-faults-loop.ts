import { drain } from './cases/drain.ts';
import { failover } from './cases/failover.ts';
import { recovery } from './cases/recovery.ts';
import { redisRestart } from './cases/redis-restart.ts';
import { LocalTopology } from './local/local-topology.ts';
import { runScenarios } from './run-scenarios.ts';
const [proxy, adapter, times] = process.argv.slice(2) as ['haproxy' | 'nginx', 'redis' | 'redis-sharded' | 'redis-streams', string];
const t = await LocalTopology.up({ kind: 'local', proxy, replicas: 3, adapter });
try {
  const list = Array.from({ length: Number(times) }, () => [failover, drain, redisRestart, recovery]).flat();
  const results = await runScenarios(t, list, { clients: 60 });
  for (const r of results) console.log(`${proxy} ${adapter} ${r.name} ${r.ok ? 'PASS' : 'FAIL'} ${r.durationMs}ms ${r.failures.join('; ')} ${Object.entries(r.metrics).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log(`${proxy} ${adapter}: ${results.filter((r) => !r.ok).length} failed of ${results.length}`);
} finally { await t.down(); }
