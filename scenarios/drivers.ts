import type { TopologyDriver, TopologyKind } from './topology.ts';

/** Drivers load lazily: the local one needs no Docker, the Docker and k8s ones need no haproxy binary. */
export async function driverFor(kind: TopologyKind): Promise<TopologyDriver> {
  switch (kind) {
    case 'local':
      return (await import('./local/local-topology.ts')).localDriver;
    case 'compose':
      return (await import('./compose/compose-topology.ts')).composeDriver;
    case 'swarm':
      return (await import('./swarm/swarm-topology.ts')).swarmDriver;
    case 'k8s':
      return (await import('./k8s/k8s-topology.ts')).k8sDriver;
  }
}
