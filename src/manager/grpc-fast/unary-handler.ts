import { type Http2ServerRequest, type Http2ServerResponse, constants as h2 } from "node:http2";
import { gunzip } from "node:zlib";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  isMessage,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "../../common/logging.js";
import { ACCEPT_ENCODING, encodeGrpcMessage, parseGrpcTimeout, toStatus } from "./protocol.js";

type NodeHandler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;
type UnaryFn = (req: UnaryRequest) => Promise<UnaryResponse>;
type UnaryImpl = (req: Message, ctx: HandlerContext) => unknown;

export interface FastUnaryOptions {
  /** Route registrations, e.g. managerRoutes(services): only their unary methods are served here. */
  routes: (router: ConnectRouter) => void;
  /** The same interceptors the connect-node adapter runs, outermost first. */
  interceptors: readonly Interceptor[];
  /** Largest request message (after decompression); larger is RESOURCE_EXHAUSTED. */
  readMaxBytes: number;
  /** Longest grpc-timeout accepted (connect-node's maxTimeoutMs); default unlimited. */
  maxTimeoutMs?: number;
  /** Everything else: other services, non-gRPC content types, streaming methods. */
  fallback: NodeHandler;
  /** Per-request context values, as connect-node's option (e.g. the TLS peer identity). */
  contextValues?: (req: Http2ServerRequest) => ContextValues;
  /** Where a response that could not be written is reported (the call then ends INTERNAL or reset). */
  logger?: Logger;
}

interface Route {
  service: DescService;
  method: DescMethodUnary;
  call: UnaryFn;
}

// Matched case-insensitively, as connect-node does (application/grpc+json goes there).
const GRPC_CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);
// As connect-node answers (one contract on both paths; every client reads either form).
const RESPONSE_HEADERS = {
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": ACCEPT_ENCODING,
} as const;

/**
 * A lean unary gRPC server path on node:http2 for the manager's hot calls.
 * It runs the same handler functions and interceptors as connect-node with
 * the same protobuf-es types, but without connect's per-call async-iterable
 * pipeline, linked AbortControllers and header conversions (the bulk of its
 * CPU under load, see bench/README.md). On the wire it matches connect-node:
 * grpc-timeout deadlines, status and grpc-message in trailers, trailers-only
 * errors, gzip or identity request compression (others: UNIMPLEMENTED), and
 * readMaxBytes as RESOURCE_EXHAUSTED.
 */
export function createFastUnaryHandler(opts: FastUnaryOptions): NodeHandler {
  const routes = collectUnaryRoutes(opts.routes, opts.interceptors);
  const maxTimeoutMs = opts.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;
  return (req, res) => {
    const route = req.method === "POST" ? routes.get(req.url) : undefined;
    const contentType = req.headers["content-type"];
    if (!route || contentType === undefined || !GRPC_CONTENT_TYPES.has(contentType.toLowerCase())) {
      opts.fallback(req, res);
      return;
    }
    serveUnary(route, req, res, opts.readMaxBytes, maxTimeoutMs, opts.contextValues, opts.logger);
  };
}

/** Captures `router.service(desc, impl)` calls and wraps each unary method with the interceptors. */
function collectUnaryRoutes(
  register: (router: ConnectRouter) => void,
  interceptors: readonly Interceptor[],
): Map<string, Route> {
  const routes = new Map<string, Route>();
  const router = {
    service(service: DescService, impl: Record<string, UnaryImpl | undefined>) {
      for (const method of service.methods) {
        const fn = impl[method.localName];
        if (method.methodKind !== "unary" || !fn) continue;
        const inner: UnaryFn = async (req) => {
          const ctx = (req as FastRequest).ctx;
          const out = await fn(req.message, ctx);
          const message = isMessage(out, method.output)
            ? out
            : create(method.output, out as Parameters<typeof create>[1]);
          return new FastUnaryResponse(service, method as DescMethodUnary, ctx, message);
        };
        const call = interceptors.reduceRight<UnaryFn>(
          (next, interceptor) => interceptor(next as never) as unknown as UnaryFn,
          inner,
        );
        routes.set(`/${service.typeName}/${method.name}`, {
          service,
          method: method as DescMethodUnary,
          call,
        });
      }
      return router;
    },
    rpc() {
      throw new Error("grpc-fast: router.rpc is not supported; register whole services");
    },
  };
  register(router as unknown as ConnectRouter);
  return routes;
}

interface FastRequest extends UnaryRequest {
  readonly ctx: HandlerContext;
}

const DEADLINE_EXCEEDED = "the operation timed out";

/**
 * One unary call: its state, the request (UnaryRequest) and the handler's
 * context (HandlerContext) in prototype methods and getters, so a call costs
 * a few objects and no per-call closures beyond the stream listeners. Request
 * headers, context values, the AbortSignal and the response metadata are only
 * built when something reads them.
 */
class UnaryCall {
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;
  abort: AbortController | undefined = undefined;
  responseHeader: Headers | undefined = undefined;
  responseTrailer: Headers | undefined = undefined;
  requestHeader: Headers | undefined = undefined;
  values: ContextValues | undefined = undefined;
  chunks: Buffer[] = [];
  received = 0;
  declared = -1;
  gzip = false;
  timeoutMs: number | undefined = undefined;
  watchingClose = false;

  constructor(
    readonly route: Route,
    readonly req: Http2ServerRequest,
    readonly res: Http2ServerResponse,
    readonly stream: Http2ServerResponse["stream"],
    readonly readMaxBytes: number,
    readonly contextValues: ((req: Http2ServerRequest) => ContextValues) | undefined,
    readonly logger: Logger | undefined,
  ) {}

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.finish();
    const { code, message } = toStatus(err);
    this.abort?.abort(err);
    const stream = this.stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    // Trailers-only response: status in the one HEADERS frame, which ends the stream.
    // connect-node's own setTrailerStatus adds the error's metadata (e.g.
    // grpc-retry-pushback-ms, never protocol headers) and grpc-status-details-bin,
    // so both paths send the same; grpc-message is spec-encoded (protocol.ts).
    try {
      const status = new Headers();
      setTrailerStatus(status, err instanceof ConnectError ? err : new ConnectError(message, code));
      stream.respond(
        {
          ...headersToObject(status),
          ":status": 200,
          ...RESPONSE_HEADERS,
          "grpc-message": encodeGrpcMessage(message),
        },
        { endStream: true },
      );
    } catch (writeErr) {
      // Metadata HTTP/2 refuses (fail() also runs from stream callbacks: never throw there).
      this.abandon(writeErr);
      return;
    }
    // Stop a client still sending (e.g. an oversized body) once it has its status.
    if (!this.req.readableEnded) this.stream.close();
  }

  /**
   * The peer went away (RST_STREAM, connection loss) before we answered: stop
   * the deadline timer and abort the handler's signal. Only watched while there
   * is a timer or a signal to abort; otherwise the answer is simply dropped.
   */
  watchClose(): void {
    if (this.watchingClose) return;
    this.watchingClose = true;
    this.stream.once("close", () => this.onClose());
  }

  onClose(): void {
    if (!this.done) {
      this.finish();
      this.abort?.abort(new ConnectError("operation canceled", Code.Canceled));
    }
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    this.received += chunk.length;
    this.chunks.push(chunk);
    const { readMaxBytes, received } = this;
    // Reject from the length prefix alone, before buffering an oversized message.
    if (this.declared < 0 && received >= 5) {
      const first = this.chunks[0] as Buffer;
      this.declared = (first.length >= 5 ? first : Buffer.concat(this.chunks)).readUInt32BE(1);
    }
    if (this.declared > readMaxBytes || received > readMaxBytes + 10) {
      this.fail(
        new ConnectError(
          `message size ${Math.max(this.declared, received - 5)} is larger than configured readMaxBytes ${readMaxBytes}`,
          Code.ResourceExhausted,
        ),
      );
    }
  }

  onEnd(): void {
    if (this.done) return;
    const chunks = this.chunks;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.chunks = [];
    let payload: Buffer;
    let compressed: boolean;
    try {
      ({ payload, compressed } = unframeUnary(body, this.route.method.name));
      if (compressed && !this.gzip) {
        throw new ConnectError(
          "protocol error: received compressed envelope, but no grpc-encoding was set",
          Code.Internal,
        );
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!compressed) {
      this.invoke(payload);
      return;
    }
    const readMaxBytes = this.readMaxBytes;
    gunzip(payload, { maxOutputLength: readMaxBytes }, (err, out) => {
      if (!err) this.invoke(out);
      else if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        this.fail(
          new ConnectError(
            `message is larger than configured readMaxBytes ${readMaxBytes} after decompression`,
            Code.ResourceExhausted,
          ),
        );
      } else
        this.fail(
          new ConnectError(
            `failed to decompress gzip message: ${err.message}`,
            Code.InvalidArgument,
          ),
        );
    });
  }

  invoke(payload: Buffer): void {
    const route = this.route;
    let message: Message;
    try {
      message = fromBinary(route.method.input, payload);
    } catch (err) {
      this.fail(new ConnectError(`parse binary: ${(err as Error).message}`, Code.InvalidArgument));
      return;
    }
    let pending: Promise<UnaryResponse>;
    try {
      pending = route.call(new FastUnaryRequest(this, message));
    } catch (err) {
      // An interceptor chain that throws synchronously fails like a rejection.
      this.fail(err);
      return;
    }
    pending
      .then(
        (out) => this.respond(out),
        (err) => this.fail(err),
      )
      // Writing the answer threw (e.g. a header value HTTP/2 refuses): never an
      // unhandled rejection, which would end the process.
      .catch((err: unknown) => this.abandon(err));
  }

  /**
   * The last resort when an answer could not be written: a plain INTERNAL
   * status if nothing was sent yet, else a reset stream; logged once.
   */
  abandon(err: unknown): void {
    this.finish();
    this.logger?.error({ err, procedure: this.req.url }, "writing a gRPC response failed");
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      if (!stream.headersSent) {
        stream.respond(
          {
            ":status": 200,
            ...RESPONSE_HEADERS,
            "grpc-status": String(Code.Internal),
            "grpc-message": "internal error",
          },
          { endStream: true },
        );
        return;
      }
    } catch {
      // Even that was refused: reset below.
    }
    stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  }

  respond(out: UnaryResponse): void {
    if (this.done) return;
    let bytes: Uint8Array;
    try {
      bytes = toBinary(this.route.method.output as DescMessage, out.message);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.finish();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const frame = Buffer.allocUnsafe(5 + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, 5);
    const res = this.res;
    // Through the compat response: it owns the stream's wantTrailers event.
    res.writeHead(
      200,
      this.responseHeader
        ? { ...RESPONSE_HEADERS, ...headersToObject(this.responseHeader) }
        : RESPONSE_HEADERS,
    );
    const trailers: Record<string, string> = this.responseTrailer
      ? headersToObject(this.responseTrailer)
      : {};
    trailers["grpc-status"] = "0";
    res.addTrailers(trailers);
    res.end(frame);
  }

  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (!this.done) {
        // The peer may already be gone: then the handler sees the call canceled.
        if (this.stream.destroyed || this.stream.closed) this.onClose();
        else this.watchClose();
      }
    }
    return this.abort.signal;
  }

  get header(): Headers {
    this.requestHeader ??= toHeaders(this.req.headers);
    return this.requestHeader;
  }

  get contextValueMap(): ContextValues {
    this.values ??= this.contextValues ? this.contextValues(this.req) : createContextValues();
    return this.values;
  }
}

/** The interceptors' UnaryRequest (with `ctx`, the handler's context, for the innermost step). */
class FastUnaryRequest implements FastRequest {
  readonly stream = false as const;
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;
  #ctx: FastHandlerContext | undefined = undefined;

  constructor(
    readonly call: UnaryCall,
    readonly message: Message,
  ) {
    this.service = call.route.service;
    this.method = call.route.method;
  }
  get url(): string {
    return callUrl(this.call);
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

class FastHandlerContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;

  constructor(readonly call: UnaryCall) {
    this.service = call.route.service;
    this.method = call.route.method;
    // An own property, as connect-node's context has: handlers may pass it on detached.
    this.timeoutMs = () => call.timeoutMs;
  }
  readonly timeoutMs: () => number | undefined;
  get url(): string {
    return callUrl(this.call);
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
class FastUnaryResponse implements UnaryResponse {
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

function callUrl(call: UnaryCall): string {
  return `http://${call.req.headers[":authority"] ?? "localhost"}${call.req.url}`;
}

function serveUnary(
  route: Route,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  readMaxBytes: number,
  maxTimeoutMs: number,
  contextValues?: (req: Http2ServerRequest) => ContextValues,
  logger?: Logger,
): void {
  const h = req.headers;
  const call = new UnaryCall(route, req, res, res.stream, readMaxBytes, contextValues, logger);
  const encoding = h["grpc-encoding"];
  call.gzip = encoding === "gzip";
  if (encoding !== undefined && encoding !== "identity" && !call.gzip) {
    call.fail(
      new ConnectError(
        `unknown compression "${encoding}": supported encodings are ${ACCEPT_ENCODING}`,
        Code.Unimplemented,
      ),
    );
    return;
  }
  const timeoutHeader = h["grpc-timeout"] as string | undefined;
  if (timeoutHeader !== undefined) {
    const timeout = parseGrpcTimeout(timeoutHeader, maxTimeoutMs);
    if (timeout.error) {
      call.fail(timeout.error);
      return;
    }
    call.timeoutMs = timeout.timeoutMs;
    if (timeout.timeoutMs !== undefined) {
      call.timer = setTimeout(
        () => call.fail(new ConnectError(DEADLINE_EXCEEDED, Code.DeadlineExceeded)),
        timeout.timeoutMs,
      );
      call.watchClose();
    }
  }
  req.on("data", (chunk: Buffer) => call.onData(chunk));
  req.on("end", () => call.onEnd());
  req.on("error", (err) => call.fail(new ConnectError(err.message, Code.Internal)));
}

/** Exactly one length-prefixed message, as a unary gRPC request must carry. */
function unframeUnary(body: Buffer, methodName: string): { payload: Buffer; compressed: boolean } {
  if (body.length === 0) {
    throw new ConnectError(
      `protocol error: missing input message for unary method`,
      Code.Unimplemented,
    );
  }
  if (body.length < 5) {
    throw new ConnectError(
      `protocol error: incomplete envelope (${body.length} bytes) for ${methodName}`,
      Code.InvalidArgument,
    );
  }
  const flags = body[0] as number;
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) {
    throw new ConnectError(
      `protocol error: promised ${length} bytes in enveloped message, got ${body.length - 5} bytes`,
      Code.InvalidArgument,
    );
  }
  if (body.length > 5 + length) {
    throw new ConnectError(
      `protocol error: received extra input message for unary method`,
      Code.Unimplemented,
    );
  }
  return { payload: body.subarray(5), compressed: (flags & 1) === 1 };
}

function toHeaders(h: Http2ServerRequest["headers"]): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.append(k, item);
    else out.append(k, String(v));
  }
  return out;
}

function headersToObject(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}
