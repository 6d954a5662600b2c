import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, ServerHttp2Session } from "node:http2";
import { type ContextValues, createContextValues, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../common/logging.js";
import type { ValidationLimits } from "../../common/validation.js";
import { callPeerKey } from "../handlers/call-peer.js";
import type { Admission } from "../services/admission.js";
import type { Telemetry } from "../telemetry.js";
import { peerIdentityOf, peerOf, type StreamSource } from "../tls.js";
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

/**
 * The per-call context every path sets (the connect-node adapter and the fast
 * path alike): the client certificate's identity (auth), the HTTP/2 session
 * (the NOT_FOUND → GOAWAY rule) and the call's peer (handlers, identity watch).
 */
export function callContextValues(
  req: IncomingMessage | Http2ServerRequest | StreamSource,
): ContextValues {
  return createContextValues()
    .set(peerIdentityKey, peerIdentityOf(req))
    .set(grpcSessionKey, "stream" in req ? (req.stream?.session as ServerHttp2Session) : undefined)
    .set(callPeerKey, peerOf(req));
}
