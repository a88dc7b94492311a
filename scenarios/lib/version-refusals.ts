import { rawHandshake } from './handshake-probe.ts';

/**
 * What a handshake with a missing, unknown, malformed or duplicated `EIO`
 * must get: HTTP 400, as the Engine.IO protocol requires for a missing or
 * wrong mandatory query parameter, with plain engine.io's own body for it
 * (code 5). The WebSocket answer comes before any upgrade, in the shape of
 * engine.io's abortUpgrade. Literals on purpose: this is the contract, not
 * a copy of the replica's code.
 */
export const UNSUPPORTED_VERSION_ANSWERS = Object.freeze({
  polling: Object.freeze({ status: 400, contentType: 'application/json', body: '{"code":5,"message":"Unsupported protocol version"}' }),
  websocket: Object.freeze({ status: 400, contentType: 'text/html', body: 'Unsupported protocol version' }),
});

/** Missing, unknown, non-numeric, and a duplicate that engine.io alone would read as 4 (it takes the last). */
export const BAD_VERSION_QUERIES = Object.freeze(['', 'EIO=3', 'EIO=abc', 'EIO=3&EIO=4']);

export interface VersionRefusalReport {
  /** Handshakes sent (targets × queries × 2 transports). */
  checked: number;
  /** One line per answer that differs from the contract. */
  mismatches: string[];
}

/** Send every bad-version handshake over both transports to each target and compare the answers byte for byte. */
export async function checkVersionRefusals(targets: ReadonlyArray<{ name: string; url: string }>): Promise<VersionRefusalReport> {
  const mismatches: string[] = [];
  let checked = 0;
  for (const target of targets) {
    for (const transport of ['polling', 'websocket'] as const) {
      for (const version of BAD_VERSION_QUERIES) {
        const query = `${version}${version ? '&' : ''}transport=${transport}`;
        const expected = UNSUPPORTED_VERSION_ANSWERS[transport];
        checked += 1;
        try {
          const { status, contentType, body } = await rawHandshake(target.url, transport, query);
          if (status !== expected.status || contentType !== expected.contentType || body !== expected.body) {
            mismatches.push(`${target.name} ${transport} ?${query}: got ${status} ${contentType} ${JSON.stringify(body.slice(0, 120))}`);
          }
        } catch (error) {
          mismatches.push(`${target.name} ${transport} ?${query}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }
  return { checked, mismatches };
}
