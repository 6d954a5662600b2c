import { readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import tls from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createLogger } from "../../src/common/logging.js";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { writeCertificates } from "../../src/manager/certs.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import { createManager, type Manager } from "../../src/manager/server.js";
import { identityOfCertificate } from "../../src/manager/tls.js";
import { tempDir } from "../helpers/daemon-harness.js";
import {
  GRPC_PATHS,
  startTestManager,
  testManagerConfig,
  uniqueNodeId,
} from "../helpers/manager.js";

const API_TOKEN = "api-token-0123456789abcdef";

describe.each(GRPC_PATHS)(
  "mTLS on the gRPC port, node identity bound to the certificate ($path)",
  ({ grpcFastPath }) => {
    const dir = tempDir("fleet-mtls-");
    const rogue = tempDir("fleet-mtls-rogue-");
    const suffix = Date.now().toString(36);
    const nodeA = `mtls-a-${suffix}`;
    const nodeB = `mtls-b-${suffix}`;
    const f = (name: string) => join(dir, name);
    let manager: Manager;
    let grpcPort: number;
    let httpPort: number;

    beforeAll(async () => {
      // The same command operators run: fleet-manager certs --out DIR --nodes a,b.
      writeCertificates({
        outDir: dir,
        nodes: [nodeA, nodeB],
        hosts: ["localhost", "127.0.0.1"],
        days: 2,
      });
      writeCertificates({ outDir: rogue, nodes: [nodeA], hosts: ["127.0.0.1"], days: 2 });
      manager = await startTestManager({
        grpcFastPath,
        tls: {
          ...MANAGER_DEFAULTS.tls,
          certFile: f("server.pem"),
          keyFile: f("server.key"),
          clientCaFile: f("ca.pem"),
        },
        auth: { apiToken: API_TOKEN, enrollToken: "", bindNodeIdentity: true },
      });
      grpcPort = Number(new URL(manager.grpcUrl).port);
      httpPort = Number(new URL(manager.httpUrl).port);
    });
    afterAll(async () => {
      await manager?.stop();
    });

    const connectAs = (node: string, caDir = dir) =>
      createManagerConnection({
        address: `127.0.0.1:${grpcPort}`,
        timeoutMs: 5_000,
        retry: false,
        tls: {
          ...MANAGER_DEFAULTS.tls,
          certFile: join(caDir, `node-${node}.pem`),
          keyFile: join(caDir, `node-${node}.key`),
          caFile: f("ca.pem"),
        },
      });

    /** A bare TLS connection: resolves with the TLS layer's verdict once data has flowed. */
    const tlsVerdict = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const sock = tls.connect({
          host: "127.0.0.1",
          port: grpcPort,
          servername: "localhost",
          ALPNProtocols: ["h2"],
          ...options,
        });
        const timer = setTimeout(() => {
          sock.destroy();
          resolve("still open");
        }, 3_000);
        sock.on("secureConnect", () => sock.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        sock.on("error", (err: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve(`${err.code ?? ""} ${err.message}`);
        });
        sock.on("close", () => {
          clearTimeout(timer);
          resolve("closed");
        });
      });

    it("serves a node over TLS 1.3 with its own certificate", async () => {
      const conn = connectAs(nodeA);
      try {
        const res = await conn.client.registerNode({ nodeId: nodeA, hostname: "a" });
        expect(res.success).toBe(true);
        await conn.client.heartbeat({
          nodeId: nodeA,
          timestamp: BigInt(Math.floor(Date.now() / 1000)),
        });
      } finally {
        conn.close();
      }
    });

    it("denies node-a's certificate speaking as node-b, on every method, with nothing stored", async () => {
      const conn = connectAs(nodeA);
      try {
        const calls = [
          () => conn.client.registerNode({ nodeId: nodeB, hostname: "impostor" }),
          () => conn.client.heartbeat({ nodeId: nodeB, timestamp: 1n }),
          () =>
            conn.client.reportMetrics({
              nodeId: nodeB,
              metrics: [
                { type: "cpu", timestamp: BigInt(Math.floor(Date.now() / 1000)), values: { x: 1 } },
              ],
            }),
        ];
        for (const call of calls) {
          const err = await call().then(
            () => undefined,
            (e: unknown) => ConnectError.from(e),
          );
          expect(err?.code).toBe(Code.PermissionDenied);
          expect(err?.rawMessage).toContain(nodeA);
        }
      } finally {
        conn.close();
      }
      const rows = await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, nodeB));
      expect(rows).toEqual([]);
    });

    it("refuses a TLS 1.2-only client", async () => {
      const verdict = await tlsVerdict({
        maxVersion: "TLSv1.2",
        ca: readFileSync(f("ca.pem")),
        cert: readFileSync(f(`node-${nodeA}.pem`)),
        key: readFileSync(f(`node-${nodeA}.key`)),
      });
      expect(verdict).toMatch(/protocol version|unsupported protocol|ERR_SSL/i);
    });

    it("refuses a client without a certificate", async () => {
      const verdict = await tlsVerdict({ ca: readFileSync(f("ca.pem")) });
      expect(verdict).toMatch(/certificate required/i);
      // Through the gRPC client too: the call fails and nothing is answered OK.
      const sm = new Http2SessionManager(`https://127.0.0.1:${grpcPort}`, undefined, {
        ca: readFileSync(f("ca.pem")),
        servername: "localhost",
      });
      const client = createClient(
        ManagerService,
        createGrpcTransport({ baseUrl: `https://127.0.0.1:${grpcPort}`, sessionManager: sm }),
      );
      try {
        await expect(client.registerNode({ nodeId: nodeA })).rejects.toBeInstanceOf(ConnectError);
      } finally {
        sm.abort();
      }
    });

    it("refuses a client certificate from an untrusted CA, even one naming a real node", async () => {
      const verdict = await tlsVerdict({
        ca: readFileSync(f("ca.pem")),
        cert: readFileSync(join(rogue, `node-${nodeA}.pem`)),
        key: readFileSync(join(rogue, `node-${nodeA}.key`)),
      });
      // Under TLS 1.3 the refusal arrives after our side of the handshake: an alert or a close.
      expect(verdict).toMatch(/unknown ca|closed/i);
      const conn = connectAs(nodeA, rogue);
      try {
        const err = await conn.client.registerNode({ nodeId: nodeA }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectError);
        expect(await conn.diagnose(err)).toMatch(/TLS probe/);
      } finally {
        conn.close();
      }
    });

    it("serves FleetService on the gRPC port only with a client certificate and the API token", async () => {
      const sm = new Http2SessionManager(`https://127.0.0.1:${grpcPort}`, undefined, {
        ca: readFileSync(f("ca.pem")),
        cert: readFileSync(f(`node-${nodeA}.pem`)),
        key: readFileSync(f(`node-${nodeA}.key`)),
        servername: "localhost",
      });
      const fleet = createClient(
        FleetService,
        createGrpcTransport({ baseUrl: `https://127.0.0.1:${grpcPort}`, sessionManager: sm }),
      );
      try {
        const err = await fleet.getFleetSummary({}).catch((e: unknown) => ConnectError.from(e));
        expect(err).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code).toBe(Code.Unauthenticated);
        const ok = await fleet.getNode(
          { nodeId: nodeA },
          { headers: { authorization: `Bearer ${API_TOKEN}` } },
        );
        expect(ok.node?.nodeId).toBe(nodeA);
      } finally {
        sm.abort();
      }
    });

    it("serves the HTTP port as HTTPS with the same certificate and no client certificate", async () => {
      const get = (path: string, headers: Record<string, string> = {}) =>
        new Promise<number>((resolve, reject) => {
          https
            .get(
              {
                host: "127.0.0.1",
                port: httpPort,
                path,
                ca: readFileSync(f("ca.pem")),
                servername: "localhost",
                headers,
              },
              (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              },
            )
            .on("error", reject);
        });
      expect(await get("/healthz")).toBe(200);
      expect(await get("/metrics")).toBe(401);
      expect(await get("/metrics", { authorization: `Bearer ${API_TOKEN}` })).toBe(200);
      expect(manager.httpUrl.startsWith("https://")).toBe(true);
    });

    it("reads the identity from the spiffe URI SAN, else the CN, and never from two names", () => {
      const cert = (subjectaltname: string | undefined, CN: string | string[] | undefined) =>
        ({ subject: { CN }, subjectaltname }) as unknown as tls.PeerCertificate;
      expect(identityOfCertificate(cert("URI:spiffe://fleet/node/web-1", "other"))?.nodeId).toBe(
        "web-1",
      );
      expect(identityOfCertificate(cert("DNS:x, URI:spiffe://fleet/node/db:2", "x"))?.nodeId).toBe(
        "db:2",
      );
      expect(identityOfCertificate(cert(undefined, "web-2"))?.nodeId).toBe("web-2");
      expect(identityOfCertificate(cert("URI:https://elsewhere/x", "web-3"))?.nodeId).toBe("web-3");
      expect(
        identityOfCertificate(cert("URI:spiffe://fleet/node/a, URI:spiffe://fleet/node/b", "a"))
          ?.nodeId,
      ).toBeUndefined();
      expect(identityOfCertificate(cert(undefined, ["a", "b"]))?.nodeId).toBeUndefined();
    });
  },
);

describe.each(GRPC_PATHS)(
  "mTLS with node identity binding off (a fleet sharing one certificate) ($path)",
  ({ grpcFastPath }) => {
    const dir = tempDir("fleet-mtls-shared-");
    let manager: Manager;

    beforeAll(async () => {
      writeCertificates({ outDir: dir, nodes: ["shared"], hosts: ["127.0.0.1"], days: 2 });
      manager = await startTestManager({
        grpcFastPath,
        tls: {
          ...MANAGER_DEFAULTS.tls,
          certFile: join(dir, "server.pem"),
          keyFile: join(dir, "server.key"),
          clientCaFile: join(dir, "ca.pem"),
        },
        auth: { apiToken: "", enrollToken: "", bindNodeIdentity: false },
      });
    });
    afterAll(async () => {
      await manager?.stop();
    });

    it("lets the shared certificate speak for any node", async () => {
      const conn = createManagerConnection({
        address: `127.0.0.1:${new URL(manager.grpcUrl).port}`,
        timeoutMs: 5_000,
        retry: false,
        tls: {
          ...MANAGER_DEFAULTS.tls,
          certFile: join(dir, "node-shared.pem"),
          keyFile: join(dir, "node-shared.key"),
          caFile: join(dir, "ca.pem"),
        },
      });
      try {
        const id = uniqueNodeId("shared-cert");
        expect((await conn.client.registerNode({ nodeId: id })).success).toBe(true);
      } finally {
        conn.close();
      }
    });
  },
);

describe("the fast path enforces the same identity, tokens and pushback", () => {
  const dir = tempDir("fleet-mtls-fast-");
  const suffix = Date.now().toString(36);
  const nodeA = `fast-a-${suffix}`;
  let manager: Manager;

  beforeAll(async () => {
    writeCertificates({ outDir: dir, nodes: [nodeA], hosts: ["127.0.0.1"], days: 2 });
    manager = createManager(
      testManagerConfig({
        tls: {
          ...MANAGER_DEFAULTS.tls,
          certFile: join(dir, "server.pem"),
          keyFile: join(dir, "server.key"),
          clientCaFile: join(dir, "ca.pem"),
        },
        admission: { ...MANAGER_DEFAULTS.admission, heartbeatsPerSecond: 1, heartbeatBurst: 1 },
      }),
      { logger: createLogger("fast-test", "silent"), fastPath: true },
    );
    await manager.start();
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("PERMISSION_DENIED for another node's id, RESOURCE_EXHAUSTED with a pushback trailer", async () => {
    const conn = createManagerConnection({
      address: `127.0.0.1:${new URL(manager.grpcUrl).port}`,
      timeoutMs: 5_000,
      retry: false,
      tls: {
        ...MANAGER_DEFAULTS.tls,
        certFile: join(dir, `node-${nodeA}.pem`),
        keyFile: join(dir, `node-${nodeA}.key`),
        caFile: join(dir, "ca.pem"),
      },
    });
    try {
      const denied = await conn.client
        .registerNode({ nodeId: "someone-else" })
        .catch((e: unknown) => ConnectError.from(e));
      expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
      await conn.client.registerNode({ nodeId: nodeA });
      await conn.client.heartbeat({ nodeId: nodeA, timestamp: 1n });
      const limited = await conn.client
        .heartbeat({ nodeId: nodeA, timestamp: 1n })
        .catch((e: unknown) => ConnectError.from(e));
      expect((limited as ConnectError).code).toBe(Code.ResourceExhausted);
      expect(
        Number((limited as ConnectError).metadata.get("grpc-retry-pushback-ms")),
      ).toBeGreaterThan(0);
    } finally {
      conn.close();
    }
  });
});
