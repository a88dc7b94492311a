/**
 * `make load`: bring up the local topology (loopback only), run Artillery's
 * load/artillery.yml against its proxy for a bounded time, print the
 * counters and the stickiness verdict, tear everything down. Exit 1 when a
 * virtual user lost its replica or failed.
 */
import { parseArgs } from 'node:util';
import { LocalTopology } from '../scenarios/local/local-topology.ts';
import { MAX_DURATION_S, runArtillery, stickinessVerdict } from './artillery-run.ts';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '3' },
    proxy: { type: 'string', default: 'haproxy' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string', default: '10' },
  },
});
const proxy = values.proxy === 'nginx' ? 'nginx' : values.proxy === 'haproxy' ? 'haproxy' : undefined;
const replicas = Number(values.replicas);
const durationS = Number(values.duration);
const rate = Number(values.rate);
if (!proxy || !Number.isInteger(replicas) || !Number.isInteger(durationS) || durationS > MAX_DURATION_S || !(rate > 0)) {
  console.error(`usage: load/cli.ts [--replicas N] [--proxy haproxy|nginx] [--duration S (<= ${MAX_DURATION_S})] [--rate VU/s]`);
  process.exit(2);
}

const topology = await LocalTopology.up({ kind: 'local', proxy, replicas, adapter: 'redis' });
let code = 1;
try {
  const target = topology.endpoints().proxyUrl;
  console.log(`load: artillery on ${target} (${replicas} replicas behind ${proxy}) for ${durationS} s at ${rate} VU/s; logs ${topology.logDirectory}`);
  const outcome = await runArtillery({ target, durationS, arrivalRate: rate, outDir: topology.logDirectory, log: console.log });
  const verdict = stickinessVerdict(outcome.counters);
  console.log(JSON.stringify({ ...verdict, report: outcome.reportPath }, null, 2));
  console.log(verdict.ok ? `PASS: ${verdict.sticky}/${verdict.created} virtual users kept their replica` : `FAIL: ${verdict.problems.join('; ')}`);
  code = verdict.ok ? 0 : 1;
} finally {
  await topology.down();
}
process.exit(code);
