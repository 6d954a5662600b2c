import { readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { ConnectError, createClient } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { describeError } from "../../src/daemon/transport/errors.js";
import { writeCertificates } from "../../src/manager/certs.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { spawnDaemon, writeDaemonYaml } from "../helpers/daemon-process.js";

/**
 * A CA, a server cert for 127.0.0.1 and a client cert (the `certs` command's own
 * code), and a rogue CA with its own client cert, in one folder.
 */
function makeCerts(dir: string) {
  writeCertificates({ outDir: dir, nodes: ["client"], hosts: ["127.0.0.1", "localhost"], days: 2 });
  const rogue = join(dir, "rogue");
  writeCertificates({ outDir: rogue, nodes: ["client"], hosts: ["127.0.0.1"], days: 2 });
  const names: Record<string, string> = {
    "client.pem": "node-client.pem",
    "client.key": "node-client.key",
    "other-ca.pem": "rogue/ca.pem",
    "rogue-client.pem": "rogue/node-client.pem",
    "rogue-client.key": "rogue/node-client.key",
  };
  return (f: string) => join(dir, names[f] ?? f);
}

describe("daemon transport over TLS 1.3 with client certificates", () => {
  const dir = tempDir("fleet-tls-");
  let file: (f: string) => string;
  let server: http2.Http2SecureServer;
  let address: string;
  const negotiated: { protocol: string | null; peer: string }[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    file = makeCerts(dir);
    const handler = connectNodeAdapter({
      grpc: true,
      connect: false,
      grpcWeb: false,
      routes: (router) =>
        router.service(ManagerService, {
          registerNode: () => ({ success: true, heartbeatIntervalSeconds: 5 }),
          heartbeat: () => ({ success: true }),
          reportMetrics: (req) => ({ success: true, accepted: req.metrics.length }),
        }),
    });
    server = http2.createSecureServer(
      {
        key: readFileSync(file("server.key")),
        cert: readFileSync(file("server.pem")),
        ca: readFileSync(file("ca.pem")),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.3",
      },
      handler,
    );
    server.on("secureConnection", (sock: TLSSocket) => {
      negotiated.push({
        protocol: sock.getProtocol(),
        peer: String(sock.getPeerCertificate()?.subject?.CN ?? ""),
      });
    });
    server.on("session", (s) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server?.close(r));
  });

  const connect = (cert: string, key: string, ca: string) =>
    createManagerConnection({
      address,
      timeoutMs: 3_000,
      retry: false,
      tls: { certFile: file(cert), keyFile: file(key), caFile: file(ca) },
    });

  it("negotiates TLS 1.3 and presents the client certificate", async () => {
    const before = negotiated.length;
    const conn = connect("client.pem", "client.key", "ca.pem");
    try {
      const res = await conn.client.registerNode({ nodeId: "tls-node" });
      expect(res.heartbeatIntervalSeconds).toBe(5);
      await conn.client.reportMetrics({ nodeId: "tls-node", metrics: [] });
    } finally {
      conn.close();
    }
    expect(negotiated.slice(before)).toEqual([{ protocol: "TLSv1.3", peer: "client" }]);
  });

  it("fails with a clear message when the manager's certificate is not from our CA", async () => {
    const conn = connect("client.pem", "client.key", "other-ca.pem");
    try {
      const err = await conn.client.registerNode({ nodeId: "x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect(await conn.diagnose(err)).toMatch(
        /certificate.*manager's certificate is not signed by manager\.tls\.ca_file/i,
      );
    } finally {
      conn.close();
    }
  });

  it("fails with a clear message when the manager refuses our client certificate", async () => {
    const conn = connect("rogue-client.pem", "rogue-client.key", "ca.pem");
    try {
      const err = await conn.client.registerNode({ nodeId: "x" }).catch((e: unknown) => e);
      // The call itself only sees a cancelled stream; the probe names the cause.
      expect(describeError(err)).toMatch(/^\[Canceled\]/);
      expect(await conn.diagnose(err)).toMatch(
        /TLS probe: the manager closed the TLS connection — .*refuses a client certificate .*manager\.tls\.cert_file/,
      );
    } finally {
      conn.close();
    }
  });

  it("fails with a clear message when no client certificate is presented", async () => {
    // The daemon's config never allows this (the TLS triple is all or nothing); a bare client shows the server's answer.
    const sm = new Http2SessionManager(`https://${address}`, undefined, {
      ca: readFileSync(file("ca.pem")),
      minVersion: "TLSv1.3",
    });
    const client = createClient(
      ManagerService,
      createGrpcTransport({ baseUrl: `https://${address}`, sessionManager: sm }),
    );
    try {
      const err = await client.registerNode({ nodeId: "x" }).catch((e: unknown) => e);
      expect(describeError(err)).toMatch(
        /alert certificate required.* — the manager requires a client certificate \(manager\.tls\.cert_file\/key_file\)$/,
      );
    } finally {
      sm.abort();
    }
  });

  it("the daemon process reports over TLS with manager.tls set (--once)", async () => {
    const work = tempDir();
    const config = writeDaemonYaml(work, address, "tls-once", `manager_tls_placeholder: 0\n`);
    const yaml = readFileSync(config, "utf8")
      .replace("manager_tls_placeholder: 0\n", "")
      .replace(
        "timeout: 2s }",
        `timeout: 2s, tls: { cert_file: "${file("client.pem")}", key_file: "${file("client.key")}", ca_file: "${file("ca.pem")}" } }`,
      );
    writeFileSync(config, yaml);
    const d = spawnDaemon(["--config", config, "--once"]);
    const { code } = await d.exited;
    expect(d.stderr()).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(d.stdout()).nodeId).toBe("tls-once");
  });
});
