import type { AckError } from './protocol.ts';
import type { ReplicaSocket } from './socket-types.ts';

/**
 * A check that runs before every client event's handler, known or not
 * (rate limits, authorization): a refusal to send back instead of running
 * the handler, or undefined to let the event through. `args` are the
 * event's arguments without the ack callback. Checks run in order; the
 * first refusal wins, so cheap ones (the rate limit) go first.
 */
export type EventCheck = (socket: ReplicaSocket, event: string, args: readonly unknown[]) => AckError | undefined;
