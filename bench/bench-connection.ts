/**
 * One load-generator connection over a bare WebSocket, in one of two modes:
 * `socket.io` speaks the replica's protocol (WebSocket transport, as a
 * browser does after its upgrade), `raw` talks to the raw `ws` floor server.
 */
import WebSocket from 'ws';
import { CONNECT, decodeFrame, encodeEvent, encodeEventRaw, findProbe, PONG, rawWebSocketUrl, socketIoWebSocketUrl } from './wire.ts';

export type ConnectionMode = 'socket.io' | 'raw';

/** Microseconds of the system-wide monotonic clock (comparable across processes). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ConnectionOptions {
  /** http://host:port of the proxy, a replica, or a bench server. */
  url: string;
  mode: ConnectionMode;
  localAddress?: string;
  /** Called for every probe received: its send time (µs) and whether it is measured. */
  onProbe: (sentAtUs: number, measured: boolean) => void;
  /** Called once when the connection ends after it was open. */
  onClose?: (reason: string) => void;
}

export class BenchConnection {
  replica = '';
  private ws: WebSocket | undefined;
  private nextAck = 0;
  private readonly acks = new Map<number, (args: unknown[]) => void>();
  private opened = false;
  private closed = false;

  constructor(private readonly options: ConnectionOptions) {}

  /** Open and, in socket.io mode, wait for the replica's `welcome`. Rejects on error or after `timeoutMs`. */
  open(timeoutMs: number): Promise<void> {
    const { mode, url, localAddress } = this.options;
    const target = mode === 'raw' ? rawWebSocketUrl(url) : socketIoWebSocketUrl(url);
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(target, {
        ...(localAddress ? { localAddress } : {}),
        handshakeTimeout: timeoutMs,
        // Browsers always offer permessage-deflate; the server decides.
        perMessageDeflate: true,
      });
      this.ws = ws;
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`no welcome within ${timeoutMs} ms`)), timeoutMs);
      const succeed = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.opened = true;
        resolve();
      };
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on('error', (error) => fail(error));
      ws.on('close', (code) => {
        fail(new Error(`closed before welcome (code ${code})`));
        if (this.opened && !this.closed) {
          this.closed = true;
          this.options.onClose?.(`close ${code}`);
        }
      });
      if (mode === 'raw') {
        ws.on('open', () => {
          this.replica = 'floor';
          succeed();
        });
        ws.on('message', (data) => this.onRawMessage(data as Buffer));
        return;
      }
      ws.on('message', (data) => {
        const text = (data as Buffer).toString();
        // Hot path first: a delivery is "42[\"broadcast\"…" or "42[\"room:message\"…".
        if (text.charCodeAt(0) === 52 && text.charCodeAt(1) === 50 && text.charCodeAt(2) === 91) {
          const probe = findProbe(text);
          if (probe) {
            this.options.onProbe(probe.t, probe.measured);
            return;
          }
        }
        this.onFrame(text, succeed, fail);
      });
    });
  }

  private onRawMessage(data: Buffer): void {
    const probe = findProbe(data.toString());
    if (probe) this.options.onProbe(probe.t, probe.measured);
  }

  private onFrame(text: string, welcomed: () => void, fail: (error: Error) => void): void {
    const frame = decodeFrame(text);
    switch (frame.kind) {
      case 'open':
        this.ws?.send(CONNECT);
        return;
      case 'ping':
        this.ws?.send(PONG);
        return;
      case 'connect_error':
        fail(new Error(`connect_error: ${frame.message}`));
        return;
      case 'event':
        if (frame.name === 'welcome') {
          this.replica = String((frame.args[0] as { replica?: unknown } | undefined)?.replica ?? '');
          welcomed();
        }
        return;
      case 'ack': {
        const resolve = this.acks.get(frame.id);
        this.acks.delete(frame.id);
        resolve?.(frame.args);
        return;
      }
      default:
        return;
    }
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Ask everyone to receive `payloadJson` (socket.io: `broadcast` without ack; raw: the payload itself). */
  broadcast(payloadJson: string): void {
    if (!this.isOpen) return;
    this.ws!.send(this.options.mode === 'raw' ? payloadJson : encodeEventRaw('broadcast', [], payloadJson));
  }

  /** `room:emit` without ack. */
  roomEmit(room: string, payloadJson: string): void {
    if (!this.isOpen) return;
    this.ws!.send(encodeEventRaw('room:emit', [room], payloadJson));
  }

  /** An event with an ack; resolves with the ack's arguments, rejects after `timeoutMs`. */
  request(event: string, args: readonly unknown[], timeoutMs: number): Promise<unknown[]> {
    if (!this.isOpen) return Promise.reject(new Error('connection is not open'));
    const id = this.nextAck++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`${event}: no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.ws!.send(encodeEvent(event, args, id));
    });
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }
}
