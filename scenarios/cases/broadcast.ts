import { byReplica, closeClients, openClients } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { Checks, type Scenario, skipped, spreadUnavailable } from '../scenario.ts';

const PER_SENDER = 3;

export const broadcastScenario: Scenario = {
  name: 'broadcast',
  proves: 'a broadcast sent from a client on each replica reaches every client in the cluster exactly once',
  async run({ topology, clients: count }) {
    const noSpread = spreadUnavailable(topology);
    if (noSpread) return skipped(noSpread);
    const { proxyUrl, replicas } = topology.endpoints();
    const clients = await openClients(proxyUrl, count);
    try {
      const groups = byReplica(clients);
      const senders = [...groups.values()].map((group) => group[0]!);
      const probes = await sendProbes(senders, PER_SENDER);
      const report = await collectDeliveries({ probes, recipients: clients });
      const check = new Checks();
      check.equal(groups.size, replicas.length, 'replicas holding clients');
      check.equal(report.lost, 0, 'lost deliveries');
      check.equal(report.duplicated, 0, 'duplicated deliveries');
      check.equal(clients.flatMap((c) => c.disconnects).length, 0, 'unexpected disconnects');
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          clients: clients.length,
          replicas: groups.size,
          broadcasts: report.probes,
          expected: report.expected,
          delivered: report.delivered,
          lost: report.lost,
          duplicated: report.duplicated,
          p50Ms: report.latency.p50,
          p99Ms: report.latency.p99,
        },
      };
    } finally {
      closeClients(clients);
    }
  },
};
