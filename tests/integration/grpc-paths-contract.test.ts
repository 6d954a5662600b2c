import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  ManagerService,
  RegisterNodeRequestSchema,
} from "../../gen/manager/manager_pb.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { attachFastPath } from "../../src/manager/fast-path/serve.js";
import type { Manager } from "../../src/manager/server.js";
import { frame, type RawResponse, rawGrpcRequest } from "../helpers/grpc-clients.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

const HB = "/manager.ManagerService/Heartbeat";
const REG = "/manager.ManagerService/RegisterNode";

/** What a client can observe of one answer, minus what legitimately varies (dates, bodies). */
const observed = (r: RawResponse) => {
  const status = r.trailers ?? r.headers;
  return {
    grpcStatus: r.grpcStatus,
    grpcMessage: r.grpcMessage,
    // Not compared: an error is trailers-only on the fast path and headers +
    // empty body + trailers on connect-node; the gRPC spec allows both.
    contentType: r.headers["content-type"],
    acceptEncoding: r.headers["grpc-accept-encoding"],
    pushback: status["grpc-retry-pushback-ms"] !== undefined,
    details: status["grpc-status-details-bin"],
  };
};

/**
 * The fast path and connect-node as one contract: the same probes against a
 * manager on each must be answered identically (DESIGN §1.2; issue 11).
 */
describe("ManagerService on both gRPC paths answers the same", () => {
  const managers: Record<"fast" | "connect", Manager> = {} as never;
  const nodeId = uniqueNodeId("contract");

  beforeAll(async () => {
    const admission = { ...MANAGER_DEFAULTS.admission, heartbeatsPerSecond: 1, heartbeatBurst: 2 };
    managers.fast = await startTestManager({ grpcFastPath: true, admission });
    managers.connect = await startTestManager({ grpcFastPath: false, admission });
    const reg = frame(
      toBinary(RegisterNodeRequestSchema, create(RegisterNodeRequestSchema, { nodeId })),
    );
    for (const m of Object.values(managers)) {
      expect((await rawGrpcRequest(m.grpcUrl, REG, reg)).grpcStatus).toBe(0);
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(managers).map((m) => m?.stop()));
  });

  const both = async (path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}) => {
    const [fast, connect] = await Promise.all([
      rawGrpcRequest(managers.fast.grpcUrl, path, body, headers),
      rawGrpcRequest(managers.connect.grpcUrl, path, body, headers),
    ]);
    return { fast: observed(fast), connect: observed(connect) };
  };
  const heartbeat = (id = nodeId) =>
    toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: id }));

  it.each([
    ["gzip request", () => frame(gzipSync(heartbeat()), true), { "grpc-encoding": "gzip" }, 0],
    [
      "brotli request (not accepted: gzip only)",
      () => frame(heartbeat()),
      { "grpc-encoding": "br" },
      12,
    ],
    [
      "content type in capitals",
      () => frame(heartbeat()),
      { "content-type": "Application/GRPC" },
      0,
    ],
    [
      "grpc-timeout above limits.max_timeout (1h)",
      () => frame(heartbeat()),
      { "grpc-timeout": "2H" },
      3,
    ],
    ["grpc-timeout malformed", () => frame(heartbeat()), { "grpc-timeout": "soon" }, 3],
    ["an unknown node (NOT_FOUND)", () => frame(heartbeat(uniqueNodeId("ghost"))), {}, 5],
  ] as const)("%s", async (_name, body, headers, code) => {
    const r = await both(HB, body(), headers);
    expect(r.fast).toEqual(r.connect);
    expect(r.fast.grpcStatus).toBe(code);
  });

  it("a shed answer carries the same pushback on both", async () => {
    // The burst of 2 is gone after a few heartbeats; the next is RESOURCE_EXHAUSTED.
    let r = await both(HB, frame(heartbeat()));
    for (let i = 0; i < 5 && r.fast.grpcStatus === 0; i++) r = await both(HB, frame(heartbeat()));
    expect(r.fast.grpcStatus).toBe(Code.ResourceExhausted);
    // The wait in the message depends on when each bucket was hit.
    const same = (o: typeof r.fast) => ({
      ...o,
      grpcMessage: o.grpcMessage.replace(/\d+ ms/, "N ms"),
    });
    expect(same(r.fast)).toEqual(same(r.connect));
    expect(r.fast.pushback).toBe(true);
  });
});

/**
 * grpc-status-details-bin (google.rpc.Status with details) and error metadata
 * from a scripted handler, through each path alone: the same bytes.
 */
describe("error details and metadata on both gRPC paths", () => {
  const servers: http2.Http2Server[] = [];
  const urls: Record<"fast" | "connect", string> = { fast: "", connect: "" };

  const routes = (router: ConnectRouter) => {
    router.service(ManagerService, {
      heartbeat: async () => {
        throw new ConnectError(
          "with details",
          Code.FailedPrecondition,
          { "x-why": "because", "grpc-status": "0", "content-type": "text/html" },
          [{ desc: HeartbeatResponseSchema, value: { success: false, message: "detail" } }],
        );
      },
      // Headers HTTP/2 refuses to send (connection-specific): writing the
      // answer throws inside the fast path's promise chain.
      registerNode: async (_req, ctx) => {
        ctx.responseHeader.set("transfer-encoding", "chunked");
        return { success: true };
      },
      reportMetrics: async () => {
        throw new ConnectError("bad metadata", Code.Unavailable, { "keep-alive": "1" });
      },
    });
  };

  beforeAll(async () => {
    const adapter = connectNodeAdapter({
      routes,
      grpc: true,
      grpcWeb: false,
      connect: false,
      acceptCompression: [compressionGzip],
    });
    // As server.ts wraps it.
    const connect: typeof adapter = (req, res) => {
      res.setHeader("grpc-accept-encoding", "gzip");
      adapter(req, res);
    };
    for (const name of ["fast", "connect"] as const) {
      const server = http2.createServer(connect);
      // The fast path takes its routes' streams; the rest still reaches `connect`.
      if (name === "fast")
        attachFastPath(server, { routes, interceptors: [], readMaxBytes: 1 << 20 });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("sends the same grpc-status-details-bin and metadata, never protocol headers from metadata", async () => {
    const body = frame(
      toBinary(HeartbeatRequestSchema, create(HeartbeatRequestSchema, { nodeId: "n" })),
    );
    const [fast, connect] = await Promise.all([
      rawGrpcRequest(urls.fast, HB, body),
      rawGrpcRequest(urls.connect, HB, body),
    ]);
    const seen = (r: RawResponse) => {
      const s = r.trailers ?? r.headers;
      return {
        ...observed(r),
        why: s["x-why"],
      };
    };
    expect(seen(fast)).toEqual(seen(connect));
    expect(seen(fast)).toMatchObject({
      grpcStatus: Code.FailedPrecondition,
      contentType: "application/grpc+proto",
      why: "because",
    });
    expect(typeof seen(fast).details).toBe("string");
  });

  it("an answer HTTP/2 refuses to write ends the call INTERNAL instead of an unhandled rejection", async () => {
    // Before the fix the rejected write escaped as an unhandled rejection, which
    // ends a manager process (and fails this file with vitest's unhandled error).
    const reg = await rawGrpcRequest(
      urls.fast,
      "/manager.ManagerService/RegisterNode",
      frame(
        toBinary(RegisterNodeRequestSchema, create(RegisterNodeRequestSchema, { nodeId: "n" })),
      ),
    );
    expect(reg.grpcStatus).toBe(Code.Internal);
    const report = await rawGrpcRequest(
      urls.fast,
      "/manager.ManagerService/ReportMetrics",
      frame(new Uint8Array()),
    );
    expect(report.grpcStatus).not.toBe(0);
    // Still serving.
    const again = await rawGrpcRequest(
      urls.fast,
      "/manager.ManagerService/RegisterNode",
      frame(
        toBinary(RegisterNodeRequestSchema, create(RegisterNodeRequestSchema, { nodeId: "n" })),
      ),
    );
    expect(again.grpcStatus).toBe(Code.Internal);
  });
});
