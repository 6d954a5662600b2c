import { constants as h2, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  declaredFrameLength,
  encodeGrpcFrame,
  GRPC_PREFIX_BYTES,
} from "../../common/grpc-frame.js";
import type { Logger } from "../../common/logging.js";
import {
  errorStatusHeaders,
  FastUnaryRequest,
  headersToObject,
  type ShimCall,
  toHeaders,
} from "./connect-shims.js";
import {
  ACCEPT_ENCODING,
  encodeGrpcMessage,
  gunzipBounded,
  isCompressedFrame,
  toStatus,
  unframeUnary,
} from "./protocol.js";
import type { Route } from "./routes.js";
import { onStreamClose, onWantTrailers } from "./stream-events.js";

/** What the call's context values are built from (the TLS peer, the HTTP/2 session). */
export interface CallSource {
  readonly stream: ServerHttp2Stream;
  readonly headers: IncomingHttpHeaders;
}

export interface CallLimits {
  readMaxBytes: number;
  maxTimeoutMs: number;
  contextValues: ((source: CallSource) => ContextValues) | undefined;
  logger: Logger | undefined;
}

// As connect-node answers (one contract on both paths; every client reads either form).
const RESPONSE_HEADERS = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": ACCEPT_ENCODING,
} as const;
// No `date` header (node adds one unless told): gRPC clients do not read it,
// grpc-go's server sends none, and it is one more header to build and pack
// per call. node copies headers and options before use, so these are shared.
const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false } as const;
const TRAILERS_ONLY_OPTIONS = { endStream: true, sendDate: false } as const;
const OK_TRAILERS: Record<string, string> = Object.freeze({ "grpc-status": "0" });

/**
 * The response frame of a message. A handler that answers many calls with one
 * message object (Heartbeat: one per second, handlers/heartbeat.ts) has it
 * encoded once: the route keeps the last message it encoded and its frame.
 * Messages a handler returns are never changed afterwards (by it or by us).
 */
function encodedAnswer(route: Route, message: Message): Buffer {
  if (route.lastAnswer === message) return route.lastFrame as Buffer;
  const frame = encodeGrpcFrame(toBinary(route.method.output as DescMessage, message));
  route.lastAnswer = message;
  route.lastFrame = frame;
  return frame;
}

/**
 * One unary call on a raw HTTP/2 stream, from request headers to trailers:
 * reading and bounding the body, the deadline, decompression, decoding, the
 * interceptor chain, and one of three endings (answer with trailers,
 * trailers-only error, or reset). Its state and the Connect-shaped views
 * (connect-shims.ts) read from prototype methods and getters, so a call costs
 * a few objects; request headers, context values, the AbortSignal and the
 * response metadata are only built when something reads them.
 */
export class UnaryCall implements ShimCall {
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
  /** What wantTrailers sends (set by respond). */
  trailers: Record<string, string> | undefined = undefined;

  constructor(
    readonly route: Route,
    readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    readonly limits: CallLimits,
  ) {}

  get service() {
    return this.route.service;
  }
  get method() {
    return this.route.method;
  }
  get url(): string {
    return `http://${this.headers[":authority"] ?? "localhost"}${this.headers[":path"]}`;
  }

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
    // Trailers-only response: status in the one HEADERS frame, which ends the
    // stream; grpc-message spec-encoded (protocol.ts).
    try {
      stream.respond(
        {
          ...errorStatusHeaders(
            err instanceof ConnectError ? err : new ConnectError(message, code),
          ),
          ...RESPONSE_HEADERS,
          "grpc-message": encodeGrpcMessage(message),
        },
        TRAILERS_ONLY_OPTIONS,
      );
    } catch (writeErr) {
      // Metadata HTTP/2 refuses (fail() also runs from stream callbacks: never throw there).
      this.abandon(writeErr);
      return;
    }
    // Stop a client still sending (e.g. an oversized body) once it has its status.
    if (!stream.readableEnded) stream.close();
  }

  /**
   * The peer went away (RST_STREAM, connection loss) before we answered: stop
   * the deadline timer and abort the handler's signal. Only watched while there
   * is a timer or a signal to abort; otherwise the answer is simply dropped.
   */
  watchClose(): void {
    if (this.watchingClose) return;
    this.watchingClose = true;
    this.stream.on("close", onStreamClose); // emitted once: no once() wrapper
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
    const { readMaxBytes } = this.limits;
    const received = this.received;
    // Reject from the length prefix alone, before buffering an oversized message.
    if (this.declared < 0 && received >= GRPC_PREFIX_BYTES) {
      const first = this.chunks[0] as Buffer;
      this.declared = declaredFrameLength(
        first.length >= GRPC_PREFIX_BYTES ? first : Buffer.concat(this.chunks),
      );
    }
    if (this.declared > readMaxBytes || received > readMaxBytes + 2 * GRPC_PREFIX_BYTES) {
      this.fail(
        new ConnectError(
          `message size ${Math.max(this.declared, received - GRPC_PREFIX_BYTES)} is larger than configured readMaxBytes ${readMaxBytes}`,
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
      payload = unframeUnary(body, this.route.method.name);
      compressed = isCompressedFrame(body);
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
    gunzipBounded(payload, this.limits.readMaxBytes, (err, out) => {
      if (err) this.fail(err);
      else this.invoke(out as Buffer);
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
    pending.then(
      (out) => this.settle(out, undefined),
      (err: unknown) => this.settle(undefined, err),
    );
  }

  /**
   * Writes the handler's outcome. Writing may throw (e.g. a header value
   * HTTP/2 refuses): that is abandon(), never an unhandled rejection, which
   * would end the process.
   */
  settle(out: UnaryResponse | undefined, err: unknown): void {
    try {
      if (out) this.respond(out);
      else this.fail(err);
    } catch (writeErr) {
      this.abandon(writeErr);
    }
  }

  /**
   * The last resort when an answer could not be written: a plain INTERNAL
   * status if nothing was sent yet, else a reset stream; logged once.
   */
  abandon(err: unknown): void {
    this.finish();
    this.limits.logger?.error(
      { err, procedure: this.headers[":path"] },
      "writing a gRPC response failed",
    );
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      if (!stream.headersSent) {
        stream.respond(
          {
            ...RESPONSE_HEADERS,
            "grpc-status": String(Code.Internal),
            "grpc-message": "internal error",
          },
          TRAILERS_ONLY_OPTIONS,
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
    let frame: Buffer;
    try {
      frame = encodedAnswer(this.route, out.message);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.finish();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    let trailers = OK_TRAILERS;
    if (this.responseTrailer) {
      trailers = headersToObject(this.responseTrailer);
      trailers["grpc-status"] = "0";
    }
    // Throws (to abandon(), via invoke) on headers HTTP/2 refuses to send.
    stream.respond(
      this.responseHeader
        ? { ...RESPONSE_HEADERS, ...headersToObject(this.responseHeader) }
        : RESPONSE_HEADERS,
      RESPOND_OPTIONS,
    );
    this.trailers = trailers;
    stream.on("wantTrailers", onWantTrailers); // emitted once: no once() wrapper
    stream.end(frame);
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
    this.requestHeader ??= toHeaders(this.headers);
    return this.requestHeader;
  }

  get contextValueMap(): ContextValues {
    this.values ??= this.limits.contextValues
      ? this.limits.contextValues(this)
      : createContextValues();
    return this.values;
  }
}
