/**
 * What the Socket.IO parser costs per message, measured in this process with
 * the parser the replica uses (socket.io's default, reached through a Server
 * that is never attached). A broadcast is encoded once for all its
 * recipients (the adapter also pre-builds the WebSocket frame once), and an
 * incoming event is decoded once, so the parser's share of a fan-out is this
 * cost divided by the number of recipients.
 */
import { performance } from 'node:perf_hooks';
import { Server } from 'socket.io';
import { probePayload } from './wire.ts';

export interface ParserCost {
  /** Encoded size of one `broadcast` packet with its envelope, bytes. */
  bytes: number;
  encodeUs: number;
  decodeUs: number;
  iterations: number;
}

export function measureParserCost(size: number, iterations = 20_000): ParserCost {
  // Never attached: no engine, nothing to close.
  const io = new Server();
  const envelope = {
    id: '3b241101-e2bb-4255-8caf-4136c566a962',
    from: { replica: 'replica-1', socket: 'hQ2xkX0Xo7cT1DOkAAAB' },
    payload: JSON.parse(probePayload(1_000_000, true, size)),
    sentAt: Date.now(),
  };
  const packet = { type: 2, nsp: '/', data: ['broadcast', envelope] };
  let encoded: unknown[] = [];
  for (let i = 0; i < 1000; i++) encoded = io.encoder.encode(packet);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) encoded = io.encoder.encode(packet);
  const t1 = performance.now();
  const text = String(encoded[0]);
  const decoder = new io._parser.Decoder();
  let decoded = 0;
  decoder.on('decoded', () => {
    decoded += 1;
  });
  for (let i = 0; i < 1000; i++) decoder.add(text);
  const t2 = performance.now();
  for (let i = 0; i < iterations; i++) decoder.add(text);
  const t3 = performance.now();
  if (decoded !== iterations + 1000) throw new Error(`decoder produced ${decoded} packets`);
  return {
    bytes: Buffer.byteLength(text),
    encodeUs: Math.round(((t1 - t0) * 1000 * 100) / iterations) / 100,
    decodeUs: Math.round(((t3 - t2) * 1000 * 100) / iterations) / 100,
    iterations,
  };
}
