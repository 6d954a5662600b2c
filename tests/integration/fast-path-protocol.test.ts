import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HeartbeatRequestSchema,
  ManagerService,
  ReportMetricsRequestSchema,
} from "../../gen/manager/manager_pb.js";
import { attachFastPath } from "../../src/manager/fast-path/serve.js";
import {
  createGrpcJsManagerClient,
  frame,
  type GrpcJsManagerClient,
  grpcJsCall,
  rawGrpcRequest,
} from "../helpers/grpc-clients.js";

const READ_MAX = 2048;
const HB = "/manager.ManagerService/Heartbeat";

/**
 * The fast path against a scripted ManagerService (no database): the
 * wire protocol as connect-node, @grpc/grpc-js and a raw HTTP/2 peer see it.
 */
describe("fast path unary protocol", () => {
  let server: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  let baseUrl: string;
  let grpcJs: GrpcJsManagerClient;
  const aborted: string[] = [];
  const seenByInterceptor: string[] = [];

  beforeAll(async () => {
    const record: Interceptor = (next) => async (req) => {
      seenByInterceptor.push(req.method.name);
      const res = await next(req);
      res.header.set("x-intercepted", "yes");
      return res;
    };
    // Everything the fast path does not serve goes to the request handler.
    server = http2.createServer({}, (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("fallback\n");
    });
    attachFastPath(server, {
      routes: (router: ConnectRouter) => {
        router.service(ManagerService, {
          heartbeat: async (req, ctx) => {
            if (req.nodeId === "slow") {
              await new Promise((resolve) => {
                const t = setTimeout(resolve, 2000);
                ctx.signal.addEventListener("abort", () => {
                  clearTimeout(t);
                  aborted.push(req.nodeId);
                  resolve(undefined);
                });
              });
            }
            if (req.nodeId === "ghost")
              throw new ConnectError("node ghost: not registered", Code.NotFound);
            if (req.nodeId === "boom") throw new Error("secret detail");
            if (req.nodeId === "ünïcode") {
              throw new ConnectError('node_id: bad char ü in "ünïcode"', Code.InvalidArgument);
            }
            ctx.responseTrailer.set("x-trailer", "t");
            return { success: true, heartbeatIntervalSeconds: 30 };
          },
          registerNode: async () => ({ success: true }),
          reportMetrics: async (req) => ({ success: true, accepted: req.metrics.length }),
        });
      },
      interceptors: [record],
      readMaxBytes: READ_MAX,
    });
    server.on("session", (s) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    grpcJs = createGrpcJsManagerClient(baseUrl);
  });
  afterAll(async () => {
    grpcJs?.close();
    const closed = new Promise((resolve) => server?.close(resolve));
    for (const s of sessions) s.close();
    await closed;
  });

  const connectClient = (opts: Partial<Parameters<typeof createGrpcTransport>[0]> = {}) =>
    createClient(ManagerService, createGrpcTransport({ baseUrl, ...opts }));

  it("answers connect-node with the handler's message, interceptor headers and trailers", async () => {
    const headers: Record<string, string> = {};
    const trailers: Record<string, string> = {};
    const res = await connectClient().heartbeat(
      { nodeId: "n1", timestamp: 1n },
      {
        onHeader: (h) => Object.assign(headers, Object.fromEntries(h)),
        onTrailer: (t) => Object.assign(trailers, Object.fromEntries(t)),
      },
    );
    expect(res.success).toBe(true);
    expect(res.heartbeatIntervalSeconds).toBe(30);
    expect(headers["x-intercepted"]).toBe("yes");
    expect(headers["grpc-accept-encoding"]).toBe("gzip");
    expect(trailers["x-trailer"]).toBe("t");
    expect(seenByInterceptor).toContain("Heartbeat");
  });

  it("answers @grpc/grpc-js (original proto) the same", async () => {
    const { res, err } = await grpcJsCall<{ success: boolean; accepted: number }>(
      grpcJs,
      "ReportMetrics",
      { node_id: "n1", metrics: [{ type: "cpu", timestamp: "1", values: { a: 1 } }] },
    );
    expect(err).toBeUndefined();
    expect(res?.success).toBe(true);
  });

  it("maps errors to status codes in a trailers-only response; unknown errors become INTERNAL", async () => {
    const ghost = await connectClient()
      .heartbeat({ nodeId: "ghost" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(ghost).toBeInstanceOf(ConnectError);
    expect((ghost as ConnectError).code).toBe(Code.NotFound);
    expect((ghost as ConnectError).rawMessage).toBe("node ghost: not registered");

    const viaJs = await grpcJsCall(grpcJs, "Heartbeat", { node_id: "ghost", timestamp: "0" });
    expect(viaJs.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(viaJs.err?.details).toBe("node ghost: not registered");
    const uni = await grpcJsCall(grpcJs, "Heartbeat", { node_id: "ünïcode", timestamp: "0" });
    expect(uni.err?.details).toBe('node_id: bad char ü in "ünïcode"');

    const boom = await grpcJsCall(grpcJs, "Heartbeat", { node_id: "boom", timestamp: "0" });
    expect(boom.err?.code).toBe(grpc.status.INTERNAL);
    expect(boom.err?.details).toBe("internal error");

    const raw = await rawGrpcRequest(
      baseUrl,
      HB,
      frame(
        toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: "ünïcode" })),
      ),
    );
    expect(raw.trailersOnly).toBe(true);
    expect(raw.headers[":status"]).toBe(200);
    expect(raw.headers["content-type"]).toBe("application/grpc+proto");
    expect(raw.grpcStatus).toBe(Code.InvalidArgument);
    expect(raw.grpcMessage).toBe('node_id: bad char ü in "ünïcode"');
  });

  it("enforces grpc-timeout on the server and aborts the handler's signal", async () => {
    const raw = await rawGrpcRequest(
      baseUrl,
      HB,
      frame(toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: "slow" }))),
      { "grpc-timeout": "100m" },
    );
    expect(raw.grpcStatus).toBe(Code.DeadlineExceeded);
    expect(aborted).toContain("slow");

    const t0 = Date.now();
    const viaConnect = await connectClient()
      .heartbeat({ nodeId: "slow" }, { timeoutMs: 150 })
      .catch((e: unknown) => ConnectError.from(e));
    expect((viaConnect as ConnectError).code).toBe(Code.DeadlineExceeded);
    const viaJs = await grpcJsCall(grpcJs, "Heartbeat", { node_id: "slow", timestamp: "0" }, 150);
    expect(viaJs.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(1900);
  });

  it("rejects a malformed grpc-timeout with INVALID_ARGUMENT", async () => {
    const raw = await rawGrpcRequest(baseUrl, HB, frame(new Uint8Array()), {
      "grpc-timeout": "soon",
    });
    expect(raw.grpcStatus).toBe(Code.InvalidArgument);
    expect(raw.grpcMessage).toContain("invalid grpc timeout value");
  });

  it("refuses messages over readMaxBytes with RESOURCE_EXHAUSTED, for both clients", async () => {
    const big = {
      nodeId: "n1",
      metrics: [
        { type: "cpu", timestamp: 1n, values: { a: 1 }, labels: { pad: "x".repeat(READ_MAX) } },
      ],
    };
    const viaConnect = await connectClient()
      .reportMetrics(big)
      .catch((e: unknown) => ConnectError.from(e));
    expect((viaConnect as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((viaConnect as ConnectError).rawMessage).toContain(`readMaxBytes ${READ_MAX}`);

    // The original proto has no MetricData.labels: pad the node_id instead.
    const viaJs = await grpcJsCall(grpcJs, "ReportMetrics", {
      node_id: "x".repeat(READ_MAX),
      metrics: [{ type: "cpu", timestamp: "1", values: { a: 1 } }],
    });
    expect(viaJs.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    // A large body is refused from its length prefix, and the stream is ended.
    const huge = frame(Buffer.alloc(1_000_000));
    const raw = await rawGrpcRequest(baseUrl, "/manager.ManagerService/ReportMetrics", huge);
    expect(raw.grpcStatus).toBe(Code.ResourceExhausted);
  });

  it("accepts gzip requests from both clients, and refuses other encodings with UNIMPLEMENTED", async () => {
    const res = await connectClient({
      sendCompression: compressionGzip,
      compressMinBytes: 0,
    }).reportMetrics({
      nodeId: "n1",
      metrics: [{ type: "cpu", timestamp: 1n, values: { a: 1, b: 2 } }],
    });
    expect(res.accepted).toBe(1);

    const gz = createGrpcJsManagerClient(baseUrl, { "grpc.default_compression_algorithm": 2 });
    const viaJs = await grpcJsCall<{ success: boolean }>(gz, "Heartbeat", {
      node_id: "n1",
      timestamp: "1",
    });
    gz.close();
    expect(viaJs.err).toBeUndefined();
    expect(viaJs.res?.success).toBe(true);

    const payload = toBinary(
      HeartbeatRequestSchema,
      create(HeartbeatRequestSchema, { nodeId: "n1" }),
    );
    const ok = await rawGrpcRequest(baseUrl, HB, frame(gzipSync(payload), true), {
      "grpc-encoding": "gzip",
    });
    expect(ok.grpcStatus).toBe(0);

    const br = await rawGrpcRequest(baseUrl, HB, frame(payload), { "grpc-encoding": "br" });
    expect(br.grpcStatus).toBe(Code.Unimplemented);
    expect(br.headers["grpc-accept-encoding"]).toBe("gzip");

    const flagged = await rawGrpcRequest(baseUrl, HB, frame(payload, true));
    expect(flagged.grpcStatus).toBe(Code.Internal);

    // A gzip bomb is cut at readMaxBytes after decompression.
    const bomb = toBinary(
      ReportMetricsRequestSchema,
      create(ReportMetricsRequestSchema, { nodeId: "x".repeat(READ_MAX * 4) }),
    );
    const boom = await rawGrpcRequest(
      baseUrl,
      "/manager.ManagerService/ReportMetrics",
      frame(gzipSync(bomb), true),
      { "grpc-encoding": "gzip" },
    );
    expect(boom.grpcStatus).toBe(Code.ResourceExhausted);
  });

  it("requires exactly one message, and hands other paths to the fallback", async () => {
    const none = await rawGrpcRequest(baseUrl, HB, Buffer.alloc(0));
    expect(none.grpcStatus).toBe(Code.Unimplemented);
    const one = frame(
      toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: "n1" })),
    );
    const two = await rawGrpcRequest(baseUrl, HB, Buffer.concat([one, one]));
    expect(two.grpcStatus).toBe(Code.Unimplemented);
    const cut = await rawGrpcRequest(baseUrl, HB, one.subarray(0, one.length - 1));
    expect(cut.grpcStatus).toBe(Code.InvalidArgument);
    const garbage = await rawGrpcRequest(baseUrl, HB, frame(Buffer.from([0xff, 0xff, 0xff])));
    expect(garbage.grpcStatus).toBe(Code.InvalidArgument);

    const other = await rawGrpcRequest(baseUrl, "/fleet.v1.FleetService/ListNodes", one);
    expect(other.headers[":status"]).toBe(404);
    const json = await rawGrpcRequest(baseUrl, HB, one, {
      "content-type": "application/grpc+json",
    });
    expect(json.headers[":status"]).toBe(404);
  });
});
