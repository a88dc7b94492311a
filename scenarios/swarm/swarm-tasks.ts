import { numberField, parseJsonRecords, recordField, stringField } from '../docker/json-records.ts';

/** One line of `docker service ps --format '{{json .}}'`. */
export interface ServiceTask {
  id: string;
  /** `wsk_server.2`: service name, then the slot. */
  name: string;
  node: string;
  desiredState: string;
  /** "Running 5 seconds ago", "Starting 1 second ago", "Failed …" */
  currentState: string;
  error: string;
}

export function parseServicePs(text: string): ServiceTask[] {
  return parseJsonRecords(text, 'docker service ps').map((record) => ({
    id: stringField(record, 'ID'),
    name: stringField(record, 'Name'),
    node: stringField(record, 'Node'),
    desiredState: stringField(record, 'DesiredState').toLowerCase(),
    currentState: stringField(record, 'CurrentState'),
    error: stringField(record, 'Error'),
  }));
}

/** What the driver needs from `docker inspect --type task TASK…`. */
export interface TaskDetails {
  id: string;
  slot: number | undefined;
  nodeId: string;
  /** new, pending, assigned, preparing, starting, running, complete, failed, … */
  state: string;
  containerId: string;
  /** IPv4 address per network name, without the /prefix. */
  addresses: Record<string, string>;
}

export function parseTaskInspect(text: string): TaskDetails[] {
  return parseJsonRecords(text, 'docker inspect --type task').map((record) => {
    const status = recordField(record, 'Status');
    const addresses: Record<string, string> = {};
    const attachments = Array.isArray(record.NetworksAttachments) ? record.NetworksAttachments : [];
    for (const attachment of attachments) {
      if (typeof attachment !== 'object' || attachment === null) continue;
      const entry = attachment as Record<string, unknown>;
      const network = stringField(recordField(recordField(entry, 'Network'), 'Spec'), 'Name');
      const first = Array.isArray(entry.Addresses) ? entry.Addresses.find((a): a is string => typeof a === 'string') : undefined;
      if (network && first) addresses[network] = first.replace(/\/\d+$/, '');
    }
    return {
      id: stringField(record, 'ID'),
      slot: numberField(record, 'Slot'),
      nodeId: stringField(record, 'NodeID'),
      state: stringField(status, 'State').toLowerCase(),
      containerId: stringField(recordField(status, 'ContainerStatus'), 'ContainerID'),
      addresses,
    };
  });
}

/** The replica id the stack file gives a slot (REPLICA_ID: "server-{{.Task.Slot}}"). */
export const replicaIdForSlot = (slot: number): string => `server-${slot}`;

export function slotOfReplicaId(replicaId: string): number | undefined {
  const match = /^server-(\d+)$/.exec(replicaId);
  return match ? Number(match[1]) : undefined;
}
