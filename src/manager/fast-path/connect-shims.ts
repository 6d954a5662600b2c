/**
 * The part of the fast path tied to Connect's internals: the objects
 * interceptors and handlers receive (UnaryRequest, HandlerContext,
 * UnaryResponse) built the way connect-node builds them, and Connect's own
 * private setTrailerStatus for error statuses. @connectrpc/* are pinned to
 * exact versions for this file; tests/unit/connect-internals.test.ts fails,
 * naming what moved, when an upgrade changes any of it.
 */
import type { DescMethodUnary, DescService, Message } from "@bufbuild/protobuf";
import type {
  ConnectError,
  ContextValues,
  HandlerContext,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

/** What the shims read from a call (call.ts); built lazily there. */
export interface ShimCall {
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly url: string;
  readonly signal: AbortSignal;
  readonly header: Headers;
  readonly contextValueMap: ContextValues;
  readonly timeoutMs: number | undefined;
  responseHeader: Headers | undefined;
  responseTrailer: Headers | undefined;
}

/** The interceptors' UnaryRequest, with `ctx` (the handler's context) for the innermost step. */
export interface FastRequest extends UnaryRequest {
  readonly ctx: HandlerContext;
}

/** UnaryRequest as connect-node's gRPC handler builds it; getters defer the costly parts. */
export class FastUnaryRequest implements FastRequest {
  readonly stream = false as const;
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;
  #ctx: FastHandlerContext | undefined = undefined;

  constructor(
    readonly call: ShimCall,
    readonly message: Message,
  ) {
    this.service = call.service;
    this.method = call.method;
  }
  get url(): string {
    return this.call.url;
  }
  get signal(): AbortSignal {
    return this.call.signal;
  }
  get header(): Headers {
    return this.call.header;
  }
  get contextValues(): ContextValues {
    return this.call.contextValueMap;
  }
  get ctx(): HandlerContext {
    this.#ctx ??= new FastHandlerContext(this.call);
    return this.#ctx;
  }
}

/** HandlerContext as connect's createHandlerContext makes it (same keys). */
export class FastHandlerContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;

  constructor(readonly call: ShimCall) {
    this.service = call.service;
    this.method = call.method;
    // An own property, as connect's context has: handlers may pass it on detached.
    this.timeoutMs = () => call.timeoutMs;
  }
  readonly timeoutMs: () => number | undefined;
  get url(): string {
    return this.call.url;
  }
  get values(): ContextValues {
    return this.call.contextValueMap;
  }
  get signal(): AbortSignal {
    return this.call.signal;
  }
  get requestHeader(): Headers {
    return this.call.header;
  }
  get responseHeader(): Headers {
    this.call.responseHeader ??= new Headers();
    return this.call.responseHeader;
  }
  get responseTrailer(): Headers {
    this.call.responseTrailer ??= new Headers();
    return this.call.responseTrailer;
  }
}

/** The handler's answer as interceptors see it; header and trailer are the context's. */
export class FastUnaryResponse implements UnaryResponse {
  readonly stream = false as const;
  constructor(
    readonly service: DescService,
    readonly method: DescMethodUnary,
    readonly ctx: HandlerContext,
    readonly message: Message,
  ) {}
  get header(): Headers {
    return this.ctx.responseHeader;
  }
  get trailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

/**
 * An error's status fields as connect-node writes them: grpc-status,
 * grpc-message, the error's own metadata (never protocol headers) and
 * grpc-status-details-bin, so both paths send the same.
 */
export function errorStatusHeaders(err: ConnectError): Record<string, string> {
  const status = new Headers();
  setTrailerStatus(status, err);
  return headersToObject(status);
}

/** Request headers as a fetch Headers (pseudo-headers dropped), as connect-node hands them on. */
export function toHeaders(h: Readonly<Record<string, string | string[] | undefined>>): Headers {
  const out = new Headers();
  for (const k in h) {
    const v = h[k];
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.append(k, item);
    else out.append(k, String(v));
  }
  return out;
}

export function headersToObject(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}
