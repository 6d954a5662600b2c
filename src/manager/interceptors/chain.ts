import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, ServerHttp2Session } from "node:http2";
import {
  type ContextKey,
  type ContextValues,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { Logger } from "../../common/logging.js";
import type { ValidationLimits } from "../../common/validation.js";
import { callPeerKey } from "../handlers/call-peer.js";
import type { Admission } from "../services/admission.js";
import type { CallPeer } from "../services/nodes.js";
import type { Telemetry } from "../telemetry.js";
import { type PeerIdentity, peerIdentityOf, peerOf, type StreamSource } from "../tls.js";
import { createRateLimitInterceptor, createShedInterceptor } from "./admission.js";
import { createAuthInterceptor, peerIdentityKey } from "./auth.js";
import { createErrorInterceptor, type DomainErrorOf } from "./errors.js";
import { createInputGuardInterceptor } from "./input-guard.js";
import { grpcSessionKey, type NotFoundGoaway } from "./not-found-goaway.js";
import { createObserveInterceptor } from "./observe.js";
import { createValidateInterceptor } from "./validate.js";

export interface ChainOptions {
  telemetry: Telemetry;
  admission: Admission;
  goaway: Pick<NotFoundGoaway, "onError">;
  limits: ValidationLimits;
  auth: { apiToken: string; enrollToken: string; bindNodeIdentity: boolean };
  /** How a lower layer's failure reads as a domain error (the store's, from the composition root). */
  domainErrorOf: DomainErrorOf;
  logger: Logger;
}

/**
 * Every RPC's interceptors, outermost first; the connect-node adapters and the
 * fast path run this one list. Each layer relies on the ones around it:
 *
 * 1. observe — outermost, so it counts every call with its final code,
 *    refusals by the shed layer included.
 * 2. shed — refuses beyond the in-flight cap before any work is queued, and
 *    post-processes every failure the inner layers produced. It runs outside
 *    the error mapping on purpose, and so depends on it:
 *    - it sees ConnectErrors only, and gives UNAVAILABLE / RESOURCE_EXHAUSTED
 *      a `grpc-retry-pushback-ms`; the wait a rate limit asked for is read from
 *      `cause` being the RateLimitedError, so the error mapping must keep the
 *      domain error as the ConnectError's `cause` (errors.ts does);
 *    - it caps every status message (status-message.ts): echoed hostile input
 *      must not break the trailer, whoever raised the error.
 * 3. errors — maps FleetError (and, through `domainErrorOf`, store failures)
 *    to ConnectError, once, for unary and streaming calls; so every layer
 *    inside it and every handler throws domain errors only. Its `onError`
 *    feeds the NOT_FOUND → GOAWAY rule (not-found-goaway.ts).
 * 4. auth — tokens and certificate identity, before validation: a caller
 *    without credentials learns nothing from field errors.
 * 5. input guard — NUL characters anywhere, before the field validators.
 * 6. validate — the field rules; after it node ids are well-formed.
 * 7. rate limit — per-node buckets; after validation (well-formed node ids)
 *    and authentication (one client cannot drain another node's bucket).
 *
 * The layers also read per-call context set by callContextValues below.
 */
export function createInterceptorChain(o: ChainOptions): Interceptor[] {
  return [
    createObserveInterceptor(o.telemetry),
    createShedInterceptor(o.admission),
    createErrorInterceptor(o.logger, { onError: o.goaway.onError, domainErrorOf: o.domainErrorOf }),
    createAuthInterceptor({ ...o.auth, logger: o.logger }),
    createInputGuardInterceptor(),
    createValidateInterceptor(o.limits),
    createRateLimitInterceptor(o.admission),
  ];
}

type CallSourceRequest = IncomingMessage | Http2ServerRequest | StreamSource;

/**
 * The per-call context every path sets (the connect-node adapter and the fast
 * path alike): the client certificate's identity (auth), the HTTP/2 session
 * (the NOT_FOUND → GOAWAY rule) and the call's peer (handlers, identity watch).
 */
export function callContextValues(req: CallSourceRequest): ContextValues {
  return new CallContextValues(req);
}

const IDENTITY = 1;
const SESSION = 2;
const PEER = 4;

/**
 * ContextValues whose three per-call entries are each worked out when a layer
 * first reads (or sets, or deletes) it: a heartbeat reads only its peer, most
 * calls nothing else. Other keys are stored as createContextValues would.
 */
class CallContextValues implements ContextValues {
  #filled = 0;
  #identity: PeerIdentity | undefined = undefined;
  #session: ServerHttp2Session | undefined = undefined;
  #peer: CallPeer | undefined = undefined;
  #other: ContextValues | undefined = undefined;

  constructor(private readonly req: CallSourceRequest) {}

  get<T>(key: ContextKey<T>): T {
    switch (key as ContextKey<unknown>) {
      case peerIdentityKey:
        if (!(this.#filled & IDENTITY)) this.#identity = peerIdentityOf(this.req);
        this.#filled |= IDENTITY;
        return this.#identity as T;
      case grpcSessionKey:
        if (!(this.#filled & SESSION)) this.#session = sessionOf(this.req);
        this.#filled |= SESSION;
        return this.#session as T;
      case callPeerKey:
        if (!(this.#filled & PEER)) this.#peer = peerOf(this.req);
        this.#filled |= PEER;
        return this.#peer as T;
      default:
        return this.#other ? this.#other.get(key) : key.defaultValue;
    }
  }

  set<T>(key: ContextKey<T>, value: T): this {
    switch (key as ContextKey<unknown>) {
      case peerIdentityKey:
        this.#identity = value as PeerIdentity | undefined;
        this.#filled |= IDENTITY;
        break;
      case grpcSessionKey:
        this.#session = value as ServerHttp2Session | undefined;
        this.#filled |= SESSION;
        break;
      case callPeerKey:
        this.#peer = value as CallPeer | undefined;
        this.#filled |= PEER;
        break;
      default:
        this.#other ??= createContextValues();
        this.#other.set(key, value);
    }
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    switch (key) {
      case peerIdentityKey:
      case grpcSessionKey:
      case callPeerKey:
        return this.set(key, key.defaultValue);
      default:
        this.#other?.delete(key);
        return this;
    }
  }
}

const sessionOf = (req: CallSourceRequest): ServerHttp2Session | undefined =>
  "stream" in req ? (req.stream?.session as ServerHttp2Session) : undefined;
