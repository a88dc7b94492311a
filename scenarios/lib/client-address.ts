/**
 * The source address of test client `index`: each client in its own /24
 * (127.2.1.1, 127.2.2.1, … then 127.3.1.1, …), because Nginx's ip_hash hashes
 * only the first three octets — 127.0.0.1 and 127.0.0.2 would always land
 * together. 127.0.x.x is left to the proxies and the replicas (127.0.1.N).
 *
 * A topology whose proxy is reached some other way registers its own plan
 * for its proxy's origin (`registerAddressPlan`): clients opened against
 * that URL then bind the addresses it chose (Compose with Nginx: host
 * addresses on the project's bridge, so Nginx sees each client's own
 * address, as it would a remote client's).
 */
export function clientSourceAddress(index: number, url?: string): string {
  if (!Number.isInteger(index) || index < 0 || index >= 250 * 250) {
    throw new RangeError(`client index must be 0..${250 * 250 - 1}, got ${index}`);
  }
  const plan = url === undefined ? undefined : plans.get(originOf(url));
  if (plan) return plan(index);
  return `127.${2 + Math.floor(index / 250)}.${(index % 250) + 1}.1`;
}

export type AddressPlan = (index: number) => string;

const plans = new Map<string, AddressPlan>();

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** Clients of `url`'s origin bind `plan(index)`; returns the function that removes the plan. */
export function registerAddressPlan(url: string, plan: AddressPlan): () => void {
  const origin = originOf(url);
  plans.set(origin, plan);
  return () => {
    if (plans.get(origin) === plan) plans.delete(origin);
  };
}
