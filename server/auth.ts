import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { AuthConfig } from './config.ts';
import type { EventCheck } from './event-check.ts';
import type { Logger } from './logger.ts';
import type { ReplicaSocket } from './socket-types.ts';

/** What a socket.io middleware receives as `next`. */
type Next = (error?: Error & { data?: unknown }) => void;

export interface Authenticator {
  /** For `io.use`: runs on every connection, and again on a recovered one. */
  middleware(socket: ReplicaSocket, next: Next): void;
  /** Refuses `join` / `room:emit` of rooms the socket's token does not grant. */
  roomCheck: EventCheck;
}

export interface AuthenticatorOptions {
  logger?: Logger;
  /** Bound on one JWKS download (jose's default is 5 s). */
  jwksTimeoutMs?: number;
}

/** Longest token accepted; real ones are a few hundred bytes to a few KB. */
export const MAX_TOKEN_LENGTH = 8192;
/** Tolerated clock difference between the token issuer and the replica. */
export const CLOCK_TOLERANCE_S = 5;
/**
 * The claim that restricts rooms: an array of room names, each either exact
 * or a prefix ending in `*` ("team-42:*"). No claim: every room is allowed.
 */
export const ROOMS_CLAIM = 'rooms';

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** The rooms one token grants; undefined = every room. */
type RoomGrant = readonly string[] | undefined;

export function roomAllowed(grant: RoomGrant, room: string): boolean {
  if (grant === undefined) return true;
  return grant.some((entry) => (entry.endsWith('*') ? room.startsWith(entry.slice(0, -1)) : entry === room));
}

function readRoomsClaim(payload: JWTPayload): { ok: true; grant: RoomGrant } | { ok: false } {
  const claim = payload[ROOMS_CLAIM];
  if (claim === undefined) return { ok: true, grant: undefined };
  if (!Array.isArray(claim) || !claim.every((entry): entry is string => typeof entry === 'string' && entry !== '')) {
    return { ok: false };
  }
  return { ok: true, grant: Object.freeze([...claim]) };
}

/** Why a token was refused, as the client reads it in `connect_error`'s `err.message`. */
export function refusalReason(error: unknown, kind: AuthConfig['kind']): string {
  if (error instanceof errors.JWTExpired) return 'unauthorized: token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'unauthorized: token not yet valid';
    return `unauthorized: ${error.reason === 'missing' ? 'missing' : 'wrong'} ${error.claim} claim`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'unauthorized: bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return 'unauthorized: signing algorithm not allowed';
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return 'unauthorized: no signing key matches the token';
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'unauthorized: malformed token';
  // Anything else while fetching keys is the key server's fault, not the client's.
  if (kind === 'jwks') return 'unavailable: cannot fetch the signing keys, try again';
  return 'unauthorized: invalid token';
}

/**
 * JWT authentication of every connection: the client sends
 * `auth: { token }` in its handshake (socket.io-client's `auth` option).
 * Missing, malformed, badly signed, expired, or with the wrong issuer or
 * audience: `connect_error` whose message says which ("unauthorized: token
 * expired"), and `err.data.code` is "UNAUTHORIZED" (or "UNAVAILABLE" when
 * the JWKS cannot be fetched). A token must carry `exp`: one that never
 * expires cannot be revoked. The token is checked when the connection is
 * made (and again when it is recovered or re-established); an established
 * connection is not cut when the token expires later.
 */
export function createAuthenticator(config: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  const key: Uint8Array | JWTVerifyGetKey =
    config.kind === 'hs256'
      ? new TextEncoder().encode(config.secret)
      : createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: options.jwksTimeoutMs ?? 5000 });
  const verifyOptions = {
    algorithms: config.kind === 'hs256' ? ['HS256'] : ASYMMETRIC,
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_TOLERANCE_S,
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };
  const grants = new WeakMap<ReplicaSocket, RoomGrant>();

  const fail = (next: Next, socket: ReplicaSocket, message: string, detail?: unknown) => {
    options.logger?.debug({ socket: socket.id, reason: message, err: detail }, 'connection refused: authentication');
    const error: Error & { data?: unknown } = new Error(message);
    error.data = { code: message.startsWith('unavailable') ? 'UNAVAILABLE' : 'UNAUTHORIZED' };
    next(error);
  };

  const verify = async (socket: ReplicaSocket, next: Next): Promise<void> => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    if (token === undefined || token === '') return fail(next, socket, 'unauthorized: missing token (send it as auth.token)');
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) {
      return fail(next, socket, 'unauthorized: malformed token');
    }
    let payload: JWTPayload;
    try {
      // Two calls because jwtVerify's overloads each take one kind of key.
      ({ payload } =
        typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions));
    } catch (error) {
      return fail(next, socket, refusalReason(error, config.kind), error);
    }
    const rooms = readRoomsClaim(payload);
    if (!rooms.ok) {
      return fail(next, socket, `unauthorized: the ${ROOMS_CLAIM} claim must be an array of room names (a trailing * matches a prefix)`);
    }
    grants.set(socket, rooms.grant);
    next();
  };

  return {
    middleware: (socket, next) => {
      verify(socket, next).catch((error: unknown) => fail(next, socket, 'unauthorized: invalid token', error));
    },
    roomCheck: (socket, event, args) => {
      if (event !== 'join' && event !== 'room:emit') return undefined;
      const room = args[0];
      // Malformed room names are the handler's to refuse (BAD_REQUEST).
      if (typeof room !== 'string' || roomAllowed(grants.get(socket), room)) return undefined;
      return {
        ok: false,
        error: { code: 'FORBIDDEN', message: `room ${JSON.stringify(room)} is not granted by the token's ${ROOMS_CLAIM} claim` },
      };
    },
  };
}
