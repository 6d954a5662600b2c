import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatRequestSchema, RegisterNodeRequestSchema } from "../../gen/manager/manager_pb.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { nodeEvents, nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { fleetClient } from "../helpers/fleet-seed.js";
import { frame, rawGrpcRequest } from "../helpers/grpc-clients.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

/**
 * Behaves like a daemon of the existing Go system (DESIGN §2): it registers
 * only when it (re)connects, never after NOT_FOUND. A GOAWAY makes its next
 * call open a new connection, as grpc-go's ClientConn does, and so register.
 */
class LegacyDaemon {
  session: http2.ClientHttp2Session | undefined;
  connections = 0;
  goaways = 0;
  draining = false;
  constructor(
    readonly baseUrl: string,
    readonly nodeId: string,
  ) {}

  private unary(path: string, body: Uint8Array): Promise<number> {
    const session = this.session as http2.ClientHttp2Session;
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let status: string | undefined;
      stream.on("response", (h) => {
        status ??= h["grpc-status"] as string | undefined;
      });
      stream.on("trailers", (t) => {
        status = t["grpc-status"] as string | undefined;
      });
      stream.on("data", () => {});
      stream.on("error", reject);
      stream.on("close", () => resolve(Number(status ?? -1)));
      stream.end(frame(body));
    });
  }

  /** Connects (and so registers) when there is no usable connection, then makes the call. */
  async call(path: string, body: Uint8Array): Promise<number> {
    if (!this.session || this.draining || this.session.closed || this.session.destroyed) {
      const session = http2.connect(this.baseUrl);
      session.on("error", () => {});
      session.on("goaway", () => {
        if (this.session === session) {
          this.goaways++;
          this.draining = true;
        }
      });
      this.session = session;
      this.draining = false;
      this.connections++;
      const reg = toBinary(
        RegisterNodeRequestSchema,
        create(RegisterNodeRequestSchema, {
          nodeId: this.nodeId,
          hostname: "go-host",
          labels: { env: "legacy" },
          daemonVersion: "go-1.0",
        }),
      );
      const code = await this.unary("/manager.ManagerService/RegisterNode", reg);
      if (code !== 0) throw new Error(`register failed with ${code}`);
    }
    return this.unary(path, body);
  }

  heartbeat(): Promise<number> {
    const hb = create(HeartbeatRequestSchema, {
      nodeId: this.nodeId,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
    });
    return this.call("/manager.ManagerService/Heartbeat", toBinary(HeartbeatRequestSchema, hb));
  }

  close(): void {
    this.session?.close();
  }
}

describe.each([
  ["fast path", true],
  ["connect-node", false],
])("the existing Go daemons recover (%s)", (_name, fastPath) => {
  let manager: Manager;
  beforeAll(async () => {
    manager = await startTestManager({ grpcFastPath: fastPath });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("answers a method it does not serve with gRPC UNIMPLEMENTED (HTTP 200, grpc-status 12)", async () => {
    for (const path of ["/proto.DaemonService/ListAgents", "/manager.ManagerService/Nope"]) {
      const res = await rawGrpcRequest(manager.grpcUrl, path, frame(new Uint8Array()));
      expect(res.headers[":status"]).toBe(200);
      expect(res.headers["content-type"]).toBe("application/grpc");
      expect(res.grpcStatus).toBe(12);
      expect(res.trailersOnly).toBe(true);
      expect(res.grpcMessage).toBe(`method not implemented by this manager: ${path}`);
    }
    // A real gRPC library reads it as UNIMPLEMENTED too.
    const client = new grpc.Client(
      manager.grpcUrl.replace(/^http:\/\//, ""),
      grpc.credentials.createInsecure(),
    );
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          "/proto.DaemonService/GetStatus",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (e) => resolve(e),
        ),
      );
      expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("closes a connection after 3 NOT_FOUND answers (GOAWAY), so a daemon that registers on connect comes back", async () => {
    expect(MANAGER_DEFAULTS.grpcGoawayAfterNotFound).toBe(3);
    const nodeId = uniqueNodeId("go");
    const daemon = new LegacyDaemon(manager.grpcUrl, nodeId);
    try {
      expect(await daemon.heartbeat()).toBe(0);
      expect(daemon.connections).toBe(1);
      await fleetClient(manager).deleteNode({ nodeId });

      // It never registers on NOT_FOUND: two answers leave the connection open…
      expect(await daemon.heartbeat()).toBe(5);
      expect(await daemon.heartbeat()).toBe(5);
      expect(daemon.goaways).toBe(0);
      // …the third (still answered) comes with a GOAWAY.
      expect(await daemon.heartbeat()).toBe(5);
      expect(daemon.goaways).toBe(1);

      // The next call reconnects, registers on connect, and is answered OK.
      expect(await daemon.heartbeat()).toBe(0);
      expect(daemon.connections).toBe(2);
      const [row] = await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, nodeId));
      expect(row).toMatchObject({ status: "online", labels: { env: "legacy" } });
      const events = await manager.database.db
        .select({ kind: nodeEvents.kind })
        .from(nodeEvents)
        .where(eq(nodeEvents.nodeId, nodeId))
        .orderBy(asc(nodeEvents.id));
      expect(events.map((e) => e.kind)).toEqual(["registered", "deleted", "registered"]);
    } finally {
      daemon.close();
    }
  });

  it("a registration starts the count again", async () => {
    const nodeId = uniqueNodeId("go-count");
    const daemon = new LegacyDaemon(manager.grpcUrl, nodeId);
    try {
      expect(await daemon.heartbeat()).toBe(0);
      const api = fleetClient(manager);
      await api.deleteNode({ nodeId });
      expect(await daemon.heartbeat()).toBe(5);
      expect(await daemon.heartbeat()).toBe(5);
      // Registered again on the same connection (as our own daemon does after NOT_FOUND).
      const reg = toBinary(
        RegisterNodeRequestSchema,
        create(RegisterNodeRequestSchema, { nodeId }),
      );
      expect(await daemon.call("/manager.ManagerService/RegisterNode", reg)).toBe(0);
      await api.deleteNode({ nodeId });
      expect(await daemon.heartbeat()).toBe(5);
      expect(await daemon.heartbeat()).toBe(5);
      expect(daemon.goaways).toBe(0);
      expect(daemon.connections).toBe(1);
    } finally {
      daemon.close();
    }
  });
});

describe("grpc.goaway_after_not_found: 0", () => {
  let manager: Manager;
  beforeAll(async () => {
    manager = await startTestManager({ grpcGoawayAfterNotFound: 0 });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("never closes the connection", async () => {
    const nodeId = uniqueNodeId("go-off");
    const daemon = new LegacyDaemon(manager.grpcUrl, nodeId);
    try {
      expect(await daemon.heartbeat()).toBe(0);
      await fleetClient(manager).deleteNode({ nodeId });
      for (let i = 0; i < 5; i++) expect(await daemon.heartbeat()).toBe(5);
      expect(daemon.goaways).toBe(0);
      expect(daemon.connections).toBe(1);
    } finally {
      daemon.close();
    }
  });
});
