import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
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
}

interface Route {
  service: DescService;
  method: DescMethodUnary;
  call: UnaryFn;
}

const GRPC_CONTENT_TYPES = new Set(["application/grpc", "application/grpc+proto"]);
const RESPONSE_HEADERS = {
  "content-type": "application/grpc",
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
    if (!route || contentType === undefined || !GRPC_CONTENT_TYPES.has(contentType)) {
      opts.fallback(req, res);
      return;
    }
    serveUnary(route, req, res, opts.readMaxBytes, maxTimeoutMs, opts.contextValues);
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
          return {
            stream: false,
            service,
            method,
            get header() {
              return ctx.responseHeader;
            },
            get trailer() {
              return ctx.responseTrailer;
            },
            message,
          } as UnaryResponse;
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

function serveUnary(
  route: Route,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  readMaxBytes: number,
  maxTimeoutMs: number,
  contextValues?: (req: Http2ServerRequest) => ContextValues,
): void {
  const h = req.headers;
  const stream = res.stream;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let abort: AbortController | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;

  const finish = () => {
    done = true;
    if (timer) clearTimeout(timer);
  };
  const fail = (err: unknown) => {
    if (done) return;
    finish();
    const { code, message } = toStatus(err);
    abort?.abort(err);
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    // Trailers-only response: status in the one HEADERS frame, which ends the stream.
    // Error metadata (e.g. grpc-retry-pushback-ms) goes along, as connect-node sends it.
    const metadata = err instanceof ConnectError ? headersToObject(err.metadata) : {};
    stream.respond(
      {
        ...metadata,
        ":status": 200,
        ...RESPONSE_HEADERS,
        "grpc-status": String(code),
        "grpc-message": encodeGrpcMessage(message),
      },
      { endStream: true },
    );
    // Stop a client still sending (e.g. an oversized body) once it has its status.
    if (!req.readableEnded) stream.close();
  };

  const encoding = h["grpc-encoding"];
  const gzip = encoding === "gzip";
  if (encoding !== undefined && encoding !== "identity" && !gzip) {
    fail(
      new ConnectError(
        `unknown compression "${encoding}": supported encodings are ${ACCEPT_ENCODING}`,
        Code.Unimplemented,
      ),
    );
    return;
  }
  const timeout = parseGrpcTimeout(h["grpc-timeout"] as string | undefined, maxTimeoutMs);
  if (timeout.error) {
    fail(timeout.error);
    return;
  }
  if (timeout.timeoutMs !== undefined) {
    timer = setTimeout(
      () => fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      timeout.timeoutMs,
    );
  }
  // The peer went away (RST_STREAM, connection loss) before we answered.
  stream.once("close", () => {
    if (!done) {
      finish();
      abort?.abort(new ConnectError("operation canceled", Code.Canceled));
    }
  });

  const chunks: Buffer[] = [];
  let received = 0;
  let declared = -1;
  req.on("data", (chunk: Buffer) => {
    if (done) return;
    received += chunk.length;
    chunks.push(chunk);
    // Reject from the length prefix alone, before buffering an oversized message.
    if (declared < 0 && received >= 5) declared = Buffer.concat(chunks).readUInt32BE(1);
    if (declared > readMaxBytes || received > readMaxBytes + 10) {
      fail(
        new ConnectError(
          `message size ${Math.max(declared, received - 5)} is larger than configured readMaxBytes ${readMaxBytes}`,
          Code.ResourceExhausted,
        ),
      );
    }
  });
  req.on("end", () => {
    if (done) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    let payload: Buffer;
    let compressed: boolean;
    try {
      ({ payload, compressed } = unframeUnary(body, route.method.name));
      if (compressed && !gzip) {
        throw new ConnectError(
          "protocol error: received compressed envelope, but no grpc-encoding was set",
          Code.Internal,
        );
      }
    } catch (err) {
      fail(err);
      return;
    }
    if (!compressed) {
      invoke(payload);
      return;
    }
    gunzip(payload, { maxOutputLength: readMaxBytes }, (err, out) => {
      if (!err) invoke(out);
      else if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        fail(
          new ConnectError(
            `message is larger than configured readMaxBytes ${readMaxBytes} after decompression`,
            Code.ResourceExhausted,
          ),
        );
      } else
        fail(
          new ConnectError(
            `failed to decompress gzip message: ${err.message}`,
            Code.InvalidArgument,
          ),
        );
    });
  });
  req.on("error", (err) => fail(new ConnectError(err.message, Code.Internal)));

  const invoke = (payload: Buffer) => {
    let message: Message;
    try {
      message = fromBinary(route.method.input, payload);
    } catch (err) {
      fail(new ConnectError(`parse binary: ${(err as Error).message}`, Code.InvalidArgument));
      return;
    }
    const signal = () => {
      abort ??= new AbortController();
      return abort.signal;
    };
    const requestHeader = () => toHeaders(h);
    const url = `http://${h[":authority"] ?? "localhost"}${req.url}`;
    const values = contextValues ? contextValues(req) : createContextValues();
    const ctx: HandlerContext = {
      service: route.service,
      method: route.method,
      protocolName: "grpc",
      requestMethod: "POST",
      url,
      values,
      get signal() {
        return signal();
      },
      timeoutMs: () => (timeout.timeoutMs === undefined ? undefined : timeout.timeoutMs),
      get requestHeader() {
        return requestHeader();
      },
      get responseHeader() {
        responseHeader ??= new Headers();
        return responseHeader;
      },
      get responseTrailer() {
        responseTrailer ??= new Headers();
        return responseTrailer;
      },
    };
    const unary: FastRequest = {
      stream: false,
      service: route.service,
      method: route.method,
      requestMethod: "POST",
      url,
      contextValues: values,
      message,
      ctx,
      get signal() {
        return signal();
      },
      get header() {
        return requestHeader();
      },
    };
    route.call(unary).then((out) => {
      if (done) return;
      let bytes: Uint8Array;
      try {
        bytes = toBinary(route.method.output as DescMessage, out.message);
      } catch (err) {
        fail(err);
        return;
      }
      finish();
      if (stream.destroyed || stream.closed) return;
      const frame = Buffer.allocUnsafe(5 + bytes.length);
      frame[0] = 0;
      frame.writeUInt32BE(bytes.length, 1);
      frame.set(bytes, 5);
      // Through the compat response: it owns the stream's wantTrailers event.
      res.writeHead(
        200,
        responseHeader
          ? { ...RESPONSE_HEADERS, ...headersToObject(responseHeader) }
          : RESPONSE_HEADERS,
      );
      const trailers: Record<string, string> = responseTrailer
        ? headersToObject(responseTrailer)
        : {};
      trailers["grpc-status"] = "0";
      res.addTrailers(trailers);
      res.end(frame);
    }, fail);
  };
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
