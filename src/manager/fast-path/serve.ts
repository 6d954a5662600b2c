import type {
  Http2SecureServer,
  Http2Server,
  IncomingHttpHeaders,
  ServerHttp2Stream,
} from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { Logger } from "../../common/logging.js";
import { type CallLimits, type CallSource, UnaryCall } from "./call.js";
import { ACCEPT_ENCODING, parseGrpcTimeout } from "./protocol.js";
import { captureUnaryRoutes, type Route } from "./routes.js";
import {
  type CallStream,
  kCall,
  onStreamData,
  onStreamEnd,
  onStreamError,
} from "./stream-events.js";

export type { CallSource } from "./call.js";

export interface FastPathOptions {
  /** Route registrations, e.g. managerRoutes(services): only their unary methods are served here. */
  routes: (router: ConnectRouter) => void;
  /** The same interceptors the connect-node adapter runs, outermost first. */
  interceptors: readonly Interceptor[];
  /** Largest request message (after decompression); larger is RESOURCE_EXHAUSTED. */
  readMaxBytes: number;
  /** Longest grpc-timeout accepted (connect-node's maxTimeoutMs); default unlimited. */
  maxTimeoutMs?: number;
  /** Per-call context values, as connect-node's option (e.g. the TLS peer identity). */
  contextValues?: (source: CallSource) => ContextValues;
  /**
   * Runs first for every stream the fast path takes (the compatibility
   * request handler never sees those): false means it was refused and
   * answered (e.g. an oversized header block), so it is not served.
   */
  admit?: (stream: ServerHttp2Stream, rawHeaders: string[]) => boolean;
  /** Where a response that could not be written is reported (the call then ends INTERNAL or reset). */
  logger?: Logger;
}

// Matched case-insensitively, as connect-node does (application/grpc+json goes there).
const GRPC_CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);

const ignoreStreamError = () => {};

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

/**
 * The fast path: unary gRPC calls to the given routes served straight from
 * the HTTP/2 server's `stream` event, on the raw stream and its header
 * object. It runs the same handler functions and interceptors as connect-node
 * with the same protobuf-es types, but without node's compatibility
 * request/response objects and connect's per-call async-iterable pipeline,
 * linked AbortControllers and header conversions (the bulk of the CPU under
 * load, bench/README.md). On the wire it matches connect-node: grpc-timeout
 * deadlines, status and grpc-message in trailers, trailers-only errors, gzip
 * or identity request compression (others: UNIMPLEMENTED), and readMaxBytes
 * as RESOURCE_EXHAUSTED.
 *
 * Everything else (other paths and services, streaming methods, non-gRPC
 * content types, `expect` headers) goes to the server's request handler
 * exactly as before: node's compatibility layer is itself a `stream`
 * listener (added when a `request` listener is), so it is taken off and
 * called for the streams the fast path does not serve. The server must have
 * been created with its request handler.
 */
export function attachFastPath(
  server: Http2Server | Http2SecureServer,
  opts: FastPathOptions,
): void {
  const compat = server.listeners("stream") as StreamListener[];
  if (compat.length !== 1 || server.listenerCount("request") === 0) {
    throw new Error(
      `fast path: expected the server's request handler and node's one compatibility 'stream' listener, found ${server.listenerCount("request")} and ${compat.length}`,
    );
  }
  const fallback = compat[0] as StreamListener;
  server.removeListener("stream", fallback);
  const routes = captureUnaryRoutes(opts.routes, opts.interceptors);
  const limits: CallLimits = {
    readMaxBytes: opts.readMaxBytes,
    maxTimeoutMs: opts.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER,
    contextValues: opts.contextValues,
    logger: opts.logger,
  };
  const admit = opts.admit;
  const dispatch: StreamListener = (stream, headers, flags, rawHeaders) => {
    const route =
      headers[":method"] === "POST" ? routes.get(headers[":path"] as string) : undefined;
    const contentType = headers["content-type"];
    if (
      !route ||
      contentType === undefined ||
      headers.expect !== undefined ||
      !GRPC_CONTENT_TYPES.has(contentType.toLowerCase())
    ) {
      fallback.call(server, stream, headers, flags, rawHeaders);
      return;
    }
    // Refused and reset: its error (if any) must not be thrown; compat listens the same way.
    if (admit && !admit(stream, rawHeaders)) {
      stream.on("error", ignoreStreamError);
      return;
    }
    serveCall(route, stream, headers, limits);
  };
  server.on("stream", dispatch);
}

/** Starts a call: encoding and deadline from the headers, then the body as it arrives. */
function serveCall(
  route: Route,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  limits: CallLimits,
): void {
  const call = new UnaryCall(route, stream, headers, limits);
  (stream as CallStream)[kCall] = call;
  stream.on("error", onStreamError);
  const encoding = headers["grpc-encoding"];
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
  const timeoutHeader = headers["grpc-timeout"] as string | undefined;
  if (timeoutHeader !== undefined) {
    const timeout = parseGrpcTimeout(timeoutHeader, limits.maxTimeoutMs);
    if (timeout.error) {
      call.fail(timeout.error);
      return;
    }
    call.timeoutMs = timeout.timeoutMs;
    if (timeout.timeoutMs !== undefined) {
      call.timer = setTimeout(
        () => call.fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        timeout.timeoutMs,
      );
      call.watchClose();
    }
  }
  stream.on("data", onStreamData);
  stream.on("end", onStreamEnd);
}
