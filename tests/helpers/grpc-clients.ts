import http2 from "node:http2";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { encodeGrpcFrame, GRPC_FLAG_COMPRESSED } from "../../src/common/grpc-frame.js";
import { packageRoot } from "../../src/common/package-root.js";

export type GrpcJsManagerClient = grpc.Client &
  Record<
    string,
    (
      req: unknown,
      meta: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: unknown) => void,
    ) => void
  >;

/** A @grpc/grpc-js client of manager.ManagerService from the frozen original proto. */
export function createGrpcJsManagerClient(
  baseUrl: string,
  options: grpc.ChannelOptions = {},
): GrpcJsManagerClient {
  const def = protoLoader.loadSync(join(packageRoot(), "proto-fixtures/manager/manager.proto"), {
    keepCase: true,
    longs: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    manager: { ManagerService: grpc.ServiceClientConstructor };
  };
  return new pkg.manager.ManagerService(
    baseUrl.replace(/^http:\/\//, ""),
    grpc.credentials.createInsecure(),
    options,
  ) as GrpcJsManagerClient;
}

/** Calls a grpc-js method; resolves with the response or the ServiceError. */
export function grpcJsCall<T>(
  client: GrpcJsManagerClient,
  method: string,
  req: unknown,
  deadlineMs = 10_000,
): Promise<{ res?: T; err?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client[method]?.(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve(err ? { err } : { res: res as T }),
    );
  });
}

export interface RawResponse {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
  /** Status from the trailers, or from the headers of a trailers-only response. */
  grpcStatus: number | undefined;
  grpcMessage: string;
  trailersOnly: boolean;
}

/** One raw HTTP/2 exchange, for checking the wire protocol itself. */
export function rawGrpcRequest(
  baseUrl: string,
  path: string,
  body: Buffer,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let trailersOnly = false;
    const chunks: Buffer[] = [];
    stream.on("response", (h, flags) => {
      resHeaders = h;
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => {});
    stream.on("close", () => {
      session.close();
      const statusFrom = trailers ?? resHeaders;
      const s = statusFrom["grpc-status"];
      resolve({
        headers: resHeaders,
        trailers,
        body: Buffer.concat(chunks),
        grpcStatus: s === undefined ? undefined : Number(s),
        grpcMessage: decodeURIComponent(String(statusFrom["grpc-message"] ?? "")),
        trailersOnly,
      });
    });
    stream.end(body);
  });
}

/** A gRPC length-prefixed frame (src/common/grpc-frame.ts). */
export function frame(message: Uint8Array, compressed = false): Buffer {
  return encodeGrpcFrame(message, compressed ? GRPC_FLAG_COMPRESSED : 0);
}
