/**
 * The source address of test client `index`: each client in its own /24
 * (127.2.1.1, 127.2.2.1, … then 127.3.1.1, …), because Nginx's ip_hash hashes
 * only the first three octets — 127.0.0.1 and 127.0.0.2 would always land
 * together. 127.0.x.x is left to the proxies and the replicas (127.0.1.N).
 */
export function clientSourceAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= 250 * 250) {
    throw new RangeError(`client index must be 0..${250 * 250 - 1}, got ${index}`);
  }
  return `127.${2 + Math.floor(index / 250)}.${(index % 250) + 1}.1`;
}
