import { randomUUID } from 'node:crypto';
import { join, leave } from '../../client/api.ts';
import { byReplica, closeClients, openClients, type PooledClient } from '../lib/client-pool.ts';
import { collectDeliveries, sendProbes } from '../lib/deliveries.ts';
import { Checks, type Scenario } from '../scenario.ts';

export const rooms: Scenario = {
  name: 'rooms',
  proves: 'room:emit reaches the members on every replica exactly once and no non-member anywhere; after leave, nothing',
  async run({ topology, clients: count }) {
    const { proxyUrl } = topology.endpoints();
    const clients = await openClients(proxyUrl, count);
    try {
      const room = `room-${randomUUID().slice(0, 8)}`;
      const groups = byReplica(clients);
      // Every other client of each replica joins, so every replica holds both members and non-members.
      const members: PooledClient[] = [];
      const others: PooledClient[] = [];
      for (const group of groups.values()) {
        group.forEach((client, i) => {
          (i % 2 === 0 ? members : others).push(client);
        });
      }
      await Promise.all(members.map((member) => join(member.socket, room)));

      // One member and one non-member send (sending needs no membership), from different replicas when possible.
      const memberSender = members[0]!;
      const otherSender = others.find((c) => c.replica !== memberSender.replica) ?? others[0] ?? memberSender;
      const senders = [...new Set([memberSender, otherSender])];
      const probes = await sendProbes(senders, 2, { kind: 'room', room });
      const report = await collectDeliveries({ probes, recipients: members, nonRecipients: others });

      await Promise.all(members.map((member) => leave(member.socket, room)));
      const afterLeave = await sendProbes(senders, 1, { kind: 'room', room });
      const leftReport = await collectDeliveries({ probes: afterLeave, recipients: [], nonRecipients: clients });

      const check = new Checks();
      const replicasWithMembers = new Set(members.map((m) => m.replica)).size;
      check.expect(replicasWithMembers >= 2 || groups.size < 2, 'members on at least two replicas');
      check.equal(report.lost, 0, 'room messages lost by members');
      check.equal(report.duplicated, 0, 'room messages duplicated');
      check.equal(report.leaked, 0, 'room messages received by non-members');
      check.equal(leftReport.leaked, 0, 'room messages received after leaving');
      return {
        ok: check.ok,
        failures: check.failures,
        metrics: {
          members: members.length,
          nonMembers: others.length,
          replicasWithMembers,
          messages: report.probes,
          expected: report.expected,
          delivered: report.delivered,
          lost: report.lost,
          duplicated: report.duplicated,
          leaked: report.leaked,
          leakedAfterLeave: leftReport.leaked,
          p50Ms: report.latency.p50,
          p99Ms: report.latency.p99,
        },
      };
    } finally {
      closeClients(clients);
    }
  },
};
