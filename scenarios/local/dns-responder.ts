import dns2 from 'dns2';

const { Packet, UDPServer } = dns2;

/**
 * A loopback DNS server that plays Docker's embedded DNS for the local
 * topology: a service name answers with one A record per live replica, TTL 1,
 * so HAProxy's `resolvers` + `server-template` see scaling exactly as they do
 * under Compose. Unknown names answer NXDOMAIN; AAAA (or any other type) for a
 * known name answers NOERROR with no records, which is what Docker does for an
 * IPv4-only service and what keeps HAProxy from treating the name as gone.
 */

export interface DnsResponderOptions {
  /** Address to bind (UDP). */
  host?: string;
  /** UDP port; 0 or omitted = any free port. */
  port?: number;
  /** name → IPv4 addresses. Names are matched case-insensitively. */
  records?: Readonly<Record<string, readonly string[]>>;
}

export interface DnsResponderHandle {
  readonly host: string;
  readonly port: number;
  /** "host:port", the form HAProxy's `nameserver` and WSK_DNS_NAMESERVER take. */
  readonly nameserver: string;
  /** Replace the addresses of `name`; an empty list keeps the name (NOERROR, no records). */
  setRecords(name: string, addresses: readonly string[]): void;
  /** Forget `name`: it answers NXDOMAIN again. */
  deleteRecords(name: string): void;
  /** Current addresses of `name`, or undefined when unknown. */
  records(name: string): readonly string[] | undefined;
  /** How many queries were answered (for tests and diagnostics). */
  readonly queryCount: number;
  close(): Promise<void>;
}

export const DNS_TTL_SECONDS = 1;

// RFC 1035 §4.1.1 response codes (dns2's typings do not declare Packet.RCODE).
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** DNS names compare case-insensitively and with or without the root dot. */
export function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function checkAddresses(name: string, addresses: readonly string[]): string[] {
  const bad = addresses.filter((address) => !IPV4.test(address));
  if (bad.length > 0) throw new Error(`DNS records for ${name}: not IPv4 addresses: ${bad.join(', ')}`);
  return [...addresses];
}

export async function startDnsResponder(options: DnsResponderOptions = {}): Promise<DnsResponderHandle> {
  const host = options.host ?? '127.0.0.1';
  const table = new Map<string, string[]>();
  for (const [name, addresses] of Object.entries(options.records ?? {})) {
    table.set(normalizeDnsName(name), checkAddresses(name, addresses));
  }
  let queryCount = 0;

  const server = new UDPServer((request, send) => {
    queryCount += 1;
    const response = Packet.createResponseFromRequest(request);
    // Authoritative answer, recursion "available": resolvers (HAProxy, glibc,
    // c-ares) accept it as a final answer rather than a referral.
    response.header.aa = 1;
    response.header.ra = 1;
    const question = request.questions[0];
    if (!question) {
      response.header.rcode = RCODE_FORMERR;
      void send(response).catch(() => {});
      return;
    }
    const addresses = table.get(normalizeDnsName(question.name));
    if (addresses === undefined) {
      response.header.rcode = RCODE_NXDOMAIN;
    } else if (question.type === Packet.TYPE.A || question.type === Packet.TYPE.ANY) {
      for (const address of addresses) {
        // Echo the name as asked: resolvers that randomize its case (0x20)
        // compare the answer's name with the question byte for byte.
        response.answers.push(
          Packet.createResourceFromQuestion(question, {
            type: Packet.TYPE.A,
            class: Packet.CLASS.IN,
            ttl: DNS_TTL_SECONDS,
            address,
          }),
        );
      }
    }
    // Known name, other type (AAAA…): NOERROR with no answers ("NODATA").
    void send(response).catch(() => {});
  });
  server.on('requestError', () => {
    // A malformed datagram is dropped, as a real server would; nothing to do.
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.bind(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();
  let closed: Promise<void> | undefined;

  return {
    host,
    port,
    nameserver: `${host}:${port}`,
    setRecords(name, addresses) {
      table.set(normalizeDnsName(name), checkAddresses(name, addresses));
    },
    deleteRecords(name) {
      table.delete(normalizeDnsName(name));
    },
    records(name) {
      const addresses = table.get(normalizeDnsName(name));
      return addresses ? [...addresses] : undefined;
    },
    get queryCount() {
      return queryCount;
    },
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
  };
}
