import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import dns2 from 'dns2';
import { type DnsResponderHandle, normalizeDnsName, startDnsResponder } from './dns-responder.ts';

/** node's c-ares resolver pointed at the responder only, with no retries to hide a missing answer. */
function resolverFor(responder: DnsResponderHandle): Resolver {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([responder.nameserver]);
  return resolver;
}

/** One A query over UDP, optionally advertising an EDNS payload size, parsed with dns2. */
async function rawQuery(responder: DnsResponderHandle, name: string, ednsPayload?: number): Promise<dns2.Packet> {
  const query = new dns2.Packet();
  query.header.id = 4242;
  query.header.rd = 1;
  query.questions.push(new dns2.Packet.Question(name, dns2.Packet.TYPE.A, dns2.Packet.CLASS.IN));
  // An OPT record's CLASS field carries the requestor's UDP payload size (RFC 6891 §6.1.2).
  if (ednsPayload) query.additionals.push(Object.assign(dns2.Packet.Resource.EDNS([]), { class: ednsPayload }));
  const socket = createSocket('udp4');
  try {
    socket.send(query.toBuffer(), responder.port, responder.host);
    const [message] = (await once(socket, 'message', { signal: AbortSignal.timeout(2000) })) as [Buffer];
    return dns2.Packet.parse(message);
  } finally {
    socket.close();
  }
}

describe('dns responder', () => {
  let responder: DnsResponderHandle;
  before(async () => {
    responder = await startDnsResponder({ records: { 'Replicas.WSK.test': ['127.0.1.1', '127.0.1.2'] } });
  });
  after(() => responder.close());

  test('answers A with one record per address, TTL 1', async () => {
    const answers = await resolverFor(responder).resolve4('replicas.wsk.test', { ttl: true });
    assert.deepEqual(
      answers.map((a) => a.address),
      ['127.0.1.1', '127.0.1.2'],
    );
    assert.ok(answers.every((a) => a.ttl === 1));
  });

  test('names are case-insensitive and may carry the root dot', async () => {
    assert.deepEqual(await resolverFor(responder).resolve4('REPLICAS.wsk.TEST'), ['127.0.1.1', '127.0.1.2']);
    assert.equal(normalizeDnsName('A.B.'), 'a.b');
  });

  test('unknown names are NXDOMAIN', async () => {
    await assert.rejects(resolverFor(responder).resolve4('nope.wsk.test'), { code: 'ENOTFOUND' });
  });

  test('AAAA for a known name is an empty NOERROR answer (NODATA), not NXDOMAIN', async () => {
    // Raw client: c-ares maps both NODATA and NXDOMAIN to errors, the rcode is what HAProxy reads.
    const client = dns2.UDPClient({ dns: responder.host, port: responder.port });
    const aaaa = await client('replicas.wsk.test', 'AAAA');
    assert.equal(aaaa.header.rcode, 0);
    assert.equal(aaaa.answers.length, 0);
    const nx = await client('nope.wsk.test', 'A');
    assert.equal(nx.header.rcode, 3);
    await assert.rejects(resolverFor(responder).resolve6('replicas.wsk.test'), { code: 'ENODATA' });
  });

  test('setRecords changes the answer at once; an empty list keeps the name; delete makes it NXDOMAIN', async () => {
    const resolver = resolverFor(responder);
    responder.setRecords('scale.wsk.test', ['127.0.1.3']);
    assert.deepEqual(await resolver.resolve4('scale.wsk.test'), ['127.0.1.3']);
    responder.setRecords('SCALE.wsk.test', ['127.0.1.3', '127.0.1.4', '127.0.1.5']);
    assert.deepEqual(await resolver.resolve4('scale.wsk.test'), ['127.0.1.3', '127.0.1.4', '127.0.1.5']);
    responder.setRecords('scale.wsk.test', []);
    await assert.rejects(resolver.resolve4('scale.wsk.test'), { code: 'ENODATA' });
    responder.deleteRecords('scale.wsk.test');
    await assert.rejects(resolver.resolve4('scale.wsk.test'), { code: 'ENOTFOUND' });
    assert.equal(responder.records('scale.wsk.test'), undefined);
  });

  test('many records: truncated (TC) at 512 bytes, whole with EDNS 8192 as HAProxy asks', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `127.0.1.${i + 1}`);
    responder.setRecords('many.wsk.test', many);
    const plain = await rawQuery(responder, 'many.wsk.test');
    assert.equal(plain.header.tc, 1);
    const edns = await rawQuery(responder, 'many.wsk.test', 8192);
    assert.equal(edns.header.tc, 0);
    assert.deepEqual(edns.answers.map((a) => a.address).sort(), [...many].sort());
  });

  test('rejects addresses that are not IPv4', () => {
    assert.throws(() => responder.setRecords('x.wsk.test', ['127.0.1.300']), /not IPv4/);
    assert.throws(() => responder.setRecords('x.wsk.test', ['::1']), /not IPv4/);
  });

  test('counts queries and binds the requested port', async () => {
    const before = responder.queryCount;
    await resolverFor(responder).resolve4('replicas.wsk.test');
    assert.ok(responder.queryCount > before);
    assert.equal(responder.nameserver, `127.0.0.1:${responder.port}`);
  });
});
