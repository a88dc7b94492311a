/**
 * A reproducible set of malformed Engine.IO / Socket.IO traffic, as a pure
 * function of a seed: what a fuzzer, a buggy client or an attacker sends.
 * The hostile-input scenario plays each case over a raw WebSocket or raw
 * HTTP long-polling (scenarios/lib/hostile-client.ts) and then demands that
 * every replica is still up and broadcasting.
 *
 * Reference (protocol v4): an Engine.IO packet is one type digit
 * (0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop) and data;
 * a Socket.IO packet rides in a message: type digit (0 CONNECT, 1
 * DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK),
 * then `<attachments>-` for binary packets, `/<nsp>,` for a namespace other
 * than "/", an ack id, then JSON. So `42["whoami"]` is an event and
 * `421["whoami"]` one asking for ack 1. Polling joins packets with \x1e and
 * sends binary as "b" + base64.
 */

export const MALFORMED_CATEGORIES = [
  'truncated',
  'garbage-json',
  'wrong-type',
  'wrong-namespace',
  'bad-binary',
  'forged-sid',
  'huge-ack-id',
  'wrong-eio',
  'bad-query',
  'binary-frame',
  'invalid-utf8',
  'bad-framing',
  'control-abuse',
  'hostile-args',
] as const;
export type MalformedCategory = (typeof MALFORMED_CATEGORIES)[number];

export type HostileTransport = 'websocket' | 'polling';

/**
 * One frame: a string is a text frame (polling: a text/plain POST body); a
 * Uint8Array a binary frame (polling: an application/octet-stream POST);
 * `{ rawText }` is a text frame / text POST whose bytes are sent as they are
 * (invalid UTF-8 included).
 */
export type Frame = string | Uint8Array | { rawText: Uint8Array };

export interface HostileCase {
  /** Position in the generated set (stable for a seed). */
  index: number;
  category: MalformedCategory;
  transport: HostileTransport;
  /**
   * Query string of the connection (websocket) or of every POST (polling),
   * without "?". `{sid}` stands for the session id the handshake returned.
   */
  query: string;
  /**
   * Polling: open a real session first (GET ?EIO=4&transport=polling) so
   * the POSTs reach a live session. Without it the query itself is the
   * attack: it is sent as is (a GET when there are no frames).
   */
  handshake: boolean;
  /** Connect the default namespace ("40") before the frames, so Socket.IO-level garbage meets a connected socket. */
  connect: boolean;
  frames: Frame[];
}

export interface GenerateOptions {
  seed: number;
  /** How many cases; at least one per category and transport. Default 1200. */
  count?: number;
}

/** mulberry32: tiny, fast, and the same sequence for the same seed on every platform. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Rng {
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Uint8Array;
  text(length: number, alphabet?: string): string;
}

function rngFrom(next: () => number): Rng {
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    bytes: (length) => Uint8Array.from({ length }, () => int(0, 255)),
    text: (length, alphabet = '[]{}",:0123456789abcxyz\\/-_ \t\n') =>
      Array.from({ length }, () => alphabet[int(0, alphabet.length - 1)]).join(''),
  };
}

const SESSION_QUERY: Record<HostileTransport, string> = {
  websocket: 'EIO=4&transport=websocket',
  polling: 'EIO=4&transport=polling&sid={sid}',
};

/** Well-formed packets the mutations start from. */
const VALID = [
  '42["whoami"]',
  '421["whoami"]',
  '42["broadcast",{"text":"hello","n":[1,2,3]}]',
  '4217["join","lobby"]',
  '42["room:emit","lobby",{"x":{"y":[true,null,1.5]}}]',
  '451-["broadcast",{"_placeholder":true,"num":0}]',
  '40{"token":"abc"}',
  '43["not","an","ack"]',
] as const;

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

type Variant = (rng: Rng, transport: HostileTransport) => Omit<HostileCase, 'index' | 'category' | 'transport'>;

const inSession = (frames: Frame[], connect = true, transport: HostileTransport = 'websocket') => ({
  query: SESSION_QUERY[transport],
  handshake: true,
  connect,
  frames,
});

function deepNesting(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

const VARIANTS: Record<MalformedCategory, Variant> = {
  truncated: (rng, transport) => {
    const packet = rng.pick(VALID);
    const cut = packet.slice(0, rng.int(1, packet.length - 1));
    return inSession(rng.int(0, 3) === 0 ? [cut, '42["whoami"]'] : [cut], rng.int(0, 1) === 1, transport);
  },

  'garbage-json': (rng, transport) => {
    const body = rng.pick([
      () => `42${rng.text(rng.int(1, 60))}`,
      () => `42["broadcast",${rng.text(rng.int(1, 40))}`,
      () => `42["broadcast",{"a":1}]${rng.text(rng.int(1, 10))}`,
      () => `421${rng.text(rng.int(1, 30))}`,
      () => `40${rng.text(rng.int(1, 30))}`,
      () => `4${rng.text(rng.int(1, 30), '0123456789[]{}",')}`,
      () => `42["join",'lobby']`,
      () => '42["broadcast",{a:1}]',
      () => '42["broadcast",NaN]',
      () => '42["broadcast",undefined]',
    ])();
    return inSession([body], rng.int(0, 4) !== 0, transport);
  },

  'wrong-type': (rng, transport) => {
    const body = rng.pick([
      '7',
      '8hello',
      '9',
      'x',
      '',
      ' ',
      '-1',
      '47',
      '48["whoami"]',
      '4x',
      '4',
      '42[1]',
      '42[null]',
      '42[{}]',
      '42[[]]',
      '42[]',
      '42{}',
      '42"broadcast"',
      '42123',
      '42true',
      '41{"reason":"x"}',
      '43["no ack id"]',
      '44"error from a client"',
      '44{"message":"x"}',
      '40[1,2]',
      '40"string auth"',
      '40null',
      '421[42,"broadcast"]',
    ]);
    return inSession([body], rng.int(0, 3) !== 0, transport);
  },

  'wrong-namespace': (rng, transport) => {
    const long = `/${'n'.repeat(rng.int(100, 4000))}`;
    const body = rng.pick([
      '40/admin,',
      '42/admin,["whoami"]',
      '421/admin,["whoami"]',
      '40/does-not-exist,{}',
      '41/x,',
      '42/,["whoami"]',
      `40${long},`,
      `42${long},["broadcast",1]`,
      '40/a b,',
      '40/\u0000,',
      '42/admin',
      '40/admin',
      '40//,',
      '40/../,',
      '40/admin,{"token":1}',
      '41/,',
      '43/admin,1[{}]',
    ]);
    return inSession([body], rng.int(0, 1) === 1, transport);
  },

  'bad-binary': (rng, transport) => {
    const count = rng.pick(['0', '1', '2', '3', '99999999', '-1', 'x', '', '1.5', '1e3']);
    const num = rng.pick(['0', '1', '2', '-1', '"0"', '0.5', '1e309', 'null', '{}']);
    const type = rng.pick(['45', '46']);
    const ack = type === '46' ? '1' : rng.pick(['', '7']);
    const head = `${type}${count}-${ack}`;
    const body = rng.pick([
      `${head}["broadcast",{"_placeholder":true,"num":${num}}]`,
      `${head}["broadcast",{"_placeholder":true}]`,
      `${head}["broadcast",{"_placeholder":"yes","num":0}]`,
      `${head}[{"_placeholder":true,"num":0}]`,
      `${head}["join",{"_placeholder":true,"num":0}]`,
      `${head}["broadcast",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]]`,
      `${head}`,
    ]);
    // What follows the announcement: too few, too many, or text instead of binary.
    const follow: Frame[] = [];
    const extra = rng.int(0, 3);
    for (let i = 0; i < extra; i++) {
      const bytes = rng.bytes(rng.int(0, 32));
      // Polling carries binary as "b" + base64 text; a WebSocket as binary frames.
      follow.push(transport === 'polling' ? `b${Buffer.from(bytes).toString('base64')}` : bytes);
    }
    if (rng.int(0, 3) === 0) follow.push('42["whoami"]');
    return inSession([body, ...follow], rng.int(0, 4) !== 0, transport);
  },

  'forged-sid': (rng, transport) => {
    const sid = rng.pick([
      rng.text(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
      '',
      'a'.repeat(rng.int(100, 3000)),
      '..%2F..%2Fetc%2Fpasswd',
      '%00',
      '{sid}x',
      'null',
      encodeURIComponent('<script>'),
    ]);
    const query = `EIO=4&transport=${transport}&sid=${sid}`;
    if (transport === 'websocket') return { query, handshake: false, connect: false, frames: rng.int(0, 1) ? ['40'] : [] };
    // With or without a real session of its own elsewhere: the forged sid is what is sent.
    return { query, handshake: rng.int(0, 1) === 1, connect: false, frames: rng.pick([[], ['40'], ['42["whoami"]'], ['1']]) };
  },

  'huge-ack-id': (rng, transport) => {
    const digits = `${rng.int(1, 9)}${rng.text(rng.int(15, 400), '0123456789')}`;
    const body = rng.pick([
      `42${digits}["whoami"]`,
      `43${digits}[{"ok":true}]`,
      `42${Number.MAX_SAFE_INTEGER + rng.int(1, 1000)}["whoami"]`,
      '42-1["whoami"]',
      '420000000000000001["whoami"]',
      `421e99["whoami"]`,
      `43${rng.int(1, 1_000_000)}[]`,
      `46${rng.int(0, 2)}-${digits}[{"_placeholder":true,"num":0}]`,
      `42${digits}["broadcast"]`,
    ]);
    return inSession([body], true, transport);
  },

  'wrong-eio': (rng, transport) => {
    const eio = rng.pick(['EIO=3', 'EIO=5', 'EIO=0', 'EIO=-1', 'EIO=abc', 'EIO=4.0', 'EIO=', '', 'EIO=4&EIO=3', `EIO=${'9'.repeat(50)}`]);
    return { query: `${eio}${eio ? '&' : ''}transport=${transport}`, handshake: false, connect: false, frames: [] };
  },

  'bad-query': (rng, transport) => {
    const query = rng.pick([
      'EIO=4&transport=foo',
      'EIO=4&transport=',
      'EIO=4',
      'EIO=4&transport=webtransport',
      `EIO=4&transport=${transport === 'polling' ? 'websocket' : 'polling'}`,
      `EIO=4&transport=${transport}&t=${'t'.repeat(rng.int(100, 2000))}`,
      `EIO=4&transport=${transport}&b64=1&j=0`,
      `EIO=4&transport=${transport}&transport=foo`,
      `EIO=4&transport=${transport}&%zz=%zz`,
      `EIO=4&transport=${transport}&${Array.from({ length: rng.int(50, 300) }, (_, i) => `p${i}=${i}`).join('&')}`,
    ]);
    return { query, handshake: false, connect: false, frames: [] };
  },

  'binary-frame': (rng, transport) => {
    const frames: Frame[] = rng.pick([
      () => [rng.bytes(rng.int(1, 64))],
      () => [utf8('42["whoami"]')],
      () => [Uint8Array.of(4), rng.bytes(rng.int(1, 16))],
      () => [new Uint8Array(0)],
      () => [rng.bytes(rng.int(1000, 8000))],
    ])();
    return inSession(frames, rng.int(0, 1) === 1, transport);
  },

  'invalid-utf8': (rng, transport) => {
    const bad = rng.pick([
      Uint8Array.of(0xff, 0xfe, 0xfd),
      Uint8Array.of(0x34, 0x32, 0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d), // 42["\xc3("]
      Uint8Array.of(0x34, 0x32, 0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d), // a UTF-16 surrogate in UTF-8
      Uint8Array.of(0x34, 0xc0, 0x80), // overlong NUL
      Uint8Array.of(0x34, 0x32, 0xf8, 0x88, 0x80, 0x80, 0x80),
      rng.bytes(rng.int(1, 32)),
    ]);
    return inSession([{ rawText: bad }], rng.int(0, 1) === 1, transport);
  },

  'bad-framing': (rng, transport) => {
    const body = rng.pick([
      '\x1e',
      '\x1e\x1e\x1e',
      '42["whoami"]\x1e',
      '\x1e42["whoami"]',
      '40\x1e\x1e42["whoami"]',
      'b',
      'b!!!!',
      'bAAAA\x1e42["whoami"]',
      `b${'A'.repeat(rng.int(1, 100))}=`,
      '',
      Array.from({ length: rng.int(2, 50) }, () => '42["whoami"]').join('\x1e'),
      Array.from({ length: rng.int(2, 20) }, () => rng.pick(VALID)).join('\x1e'),
    ]);
    return inSession([body], rng.int(0, 1) === 1, transport);
  },

  'control-abuse': (rng, transport) => {
    const frames = rng.pick([
      ['0'],
      ['0{"sid":"forged","upgrades":[],"pingInterval":1,"pingTimeout":1}'],
      ['1', '42["whoami"]'],
      ['2'],
      ['2', '2', '2'],
      ['3'],
      ['3', '3', '3', '3'],
      ['5'],
      ['5', '42["whoami"]'],
      ['6', '6', '6'],
      ['2probe'],
      ['3probe'],
      ['2probe', '5', '5'],
      ['41', '42["whoami"]'],
      ['40', '40', '40'],
      ['41', '41'],
    ]);
    return inSession(frames, rng.int(0, 1) === 1, transport);
  },

  'hostile-args': (rng, transport) => {
    const body = rng.pick([
      () => `42["broadcast",${deepNesting(rng.pick([100, 1000, 3000, 7000]))}]`,
      () => `42["join",${deepNesting(rng.int(10, 2000))}]`,
      () => '42["join",{"__proto__":{"polluted":true}}]',
      () => '42["broadcast",{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}]',
      () => '42["__proto__"]',
      () => '42["constructor",{}]',
      () => '42["toString"]',
      () => '42["hasOwnProperty","x"]',
      () => '42["disconnect"]',
      () => '42["connect"]',
      () => '42["error","x"]',
      () => '42["newListener","broadcast"]',
      () => `42["${'e'.repeat(rng.int(100, 5000))}"]`,
      () => '42["broadcast",1e999]',
      () => '42["broadcast",{"a":"\\ud800"}]',
      () => `42["join","${'r'.repeat(rng.int(65, 5000))}"]`,
      () => `42["room:emit","${'r'.repeat(rng.int(65, 500))}",1]`,
      () => `42["broadcast",${JSON.stringify('x'.repeat(rng.int(16_385, 60_000)))}]`,
      () => `42["room:emit",["lobby"],{}]`,
      () => `42["join",${JSON.stringify(Array.from({ length: rng.int(33, 200) }, (_, i) => `r${i}`))}]`,
      () => `42["whoami",${Array.from({ length: rng.int(10, 500) }, () => '0').join(',')}]`,
    ])();
    return inSession([body], true, transport);
  },
};

/**
 * The malformed set for `seed`: `count` cases, the categories in turn, each
 * category alternating between WebSocket and polling, so every category is
 * played on both transports. The same seed always gives the same cases.
 */
export function generateMalformedCases({ seed, count = 1200 }: GenerateOptions): HostileCase[] {
  const minimum = MALFORMED_CATEGORIES.length * 2;
  if (!Number.isInteger(count) || count < minimum) throw new RangeError(`count must be an integer >= ${minimum}, got ${count}`);
  const rng = rngFrom(seededRandom(seed));
  const cases: HostileCase[] = [];
  for (let index = 0; index < count; index++) {
    const category = MALFORMED_CATEGORIES[index % MALFORMED_CATEGORIES.length]!;
    const round = Math.floor(index / MALFORMED_CATEGORIES.length);
    const transport: HostileTransport = round % 2 === 0 ? 'websocket' : 'polling';
    cases.push({ index, category, transport, ...VARIANTS[category](rng, transport) });
  }
  return cases;
}

/** Frames plus the query itself when the query is the attack: what a case puts on the wire. */
export function packetsIn(hostile: HostileCase): number {
  return hostile.frames.length + (hostile.handshake ? 0 : 1);
}
