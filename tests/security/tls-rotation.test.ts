import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import tls from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { writeCertificates } from "../../src/manager/certs.js";
import { type LogEvent, tempDir } from "../helpers/daemon-harness.js";
import { type DaemonProcess, spawnDaemon, writeDaemonYaml } from "../helpers/daemon-process.js";
import { uniqueNodeId } from "../helpers/manager.js";
import { type ManagerProcess, spawnManager } from "../helpers/manager-process.js";
import { waitFor } from "../helpers/wait.js";

const API_TOKEN = "rotation-test-api-token-0123456789";

/**
 * A folder laid out as a Kubernetes Secret volume: each file is a symlink
 * through `..data`, which points at a timestamped folder; an update writes a
 * new folder and renames a new `..data` link over the old one (atomic), so the
 * files' own paths never change.
 */
function secretVolume(root: string, names: readonly string[]) {
  mkdirSync(root, { recursive: true });
  let generation = 0;
  const update = (files: Record<string, Buffer | string>) => {
    generation++;
    const dir = `..gen_${generation}`;
    mkdirSync(join(root, dir));
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(root, dir, name), content, { mode: 0o600 });
    }
    symlinkSync(dir, join(root, "..data_tmp"));
    renameSync(join(root, "..data_tmp"), join(root, "..data"));
  };
  return {
    path: (name: string) => join(root, name),
    init(files: Record<string, Buffer | string>) {
      update(files);
      for (const name of names) symlinkSync(join("..data", name), join(root, name));
    },
    update,
  };
}

const read = (p: string) => readFileSync(p);
const validTo = (pem: Buffer) =>
  Math.floor(new Date(new X509Certificate(pem).validTo).getTime() / 1000);
const fingerprintOf = (pem: Buffer) => new X509Certificate(pem).fingerprint256;

/** The server certificate a fresh TLS handshake to the manager's gRPC port presents (no client cert). */
function serverCertOf(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ca,
      ALPNProtocols: ["h2"],
    });
    s.once("secureConnect", () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256 ?? "");
      s.destroy();
    });
    s.once("error", reject);
  });
}

function httpsGet(url: string, ca: Buffer, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

describe("TLS hot rotation, real processes and real files", () => {
  const root = tempDir("fleet-rotate-");
  const pkiA = join(root, "pki-a");
  const pkiB = join(root, "pki-b");
  const ids = [uniqueNodeId("rot1"), uniqueNodeId("rot2")];
  const mgrSecret = secretVolume(join(root, "manager-secret"), ["tls.crt", "tls.key", "ca.crt"]);
  const daemonSecrets = ids.map((id) =>
    secretVolume(join(root, `daemon-${id}`), ["tls.crt", "tls.key", "ca.crt"]),
  );
  let manager: ManagerProcess;
  const daemons: DaemonProcess[] = [];
  const workDirs: string[] = [];
  let grpcPort = 0;

  const a = (f: string) => read(join(pkiA, f));
  const b = (f: string) => read(join(pkiB, f));

  beforeAll(async () => {
    // The old PKI is close to expiry (within the default 14-day window), the new one is not.
    writeCertificates({ outDir: pkiA, nodes: ids, hosts: ["127.0.0.1"], days: 10 });
    writeCertificates({ outDir: pkiB, nodes: ids, hosts: ["127.0.0.1"], days: 90 });
    mgrSecret.init({
      "tls.crt": a("server.pem"),
      "tls.key": a("server.key"),
      "ca.crt": a("ca.pem"),
    });
    const yaml = join(root, "manager.yaml");
    writeFileSync(yaml, "tls: { reload_interval: 300ms }\nheartbeat: { interval: 1s }\n");
    manager = await spawnManager(
      {
        FLEET_TLS_CERT: mgrSecret.path("tls.crt"),
        FLEET_TLS_KEY: mgrSecret.path("tls.key"),
        FLEET_TLS_CLIENT_CA: mgrSecret.path("ca.crt"),
        FLEET_API_TOKEN: API_TOKEN,
      },
      ["--config", yaml],
    );
    grpcPort = Number(new URL(manager.grpcUrl).port);
    ids.forEach((id, i) => {
      const secret = daemonSecrets[i];
      if (!secret) return;
      secret.init({
        "tls.crt": a(`node-${id}.pem`),
        "tls.key": a(`node-${id}.key`),
        "ca.crt": a("ca.pem"),
      });
      const work = tempDir("fleet-rotd-");
      workDirs.push(work);
      const config = writeDaemonYaml(
        work,
        `127.0.0.1:${grpcPort}`,
        id,
        `# TLS through the Secret-style folder\n`,
      );
      // writeDaemonYaml's manager line has no tls; add the mapping beside it.
      const text = readFileSync(config, "utf8").replace(
        "timeout: 2s }",
        `timeout: 2s, tls: { cert_file: "${secret.path("tls.crt")}", key_file: "${secret.path("tls.key")}", ca_file: "${secret.path("ca.crt")}", reload_interval: 300ms } }`,
      );
      writeFileSync(config, text);
      daemons.push(spawnDaemon(["--config", config]));
    });
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) if (d.child.exitCode === null) d.child.kill("SIGKILL");
    await manager?.stop();
  });

  const reportedAfter = (d: DaemonProcess, since: number) =>
    d.next((e) => e.msg === "reported" && Date.now() > since, 30_000);
  const reloaded = (count: number) =>
    waitFor(
      `manager reload #${count}`,
      () =>
        manager.logs.filter((l) => l.msg === "TLS certificate reloaded; new connections use it")
          .length >= count,
      { timeoutMs: 20_000 },
    );
  const renewed = (d: DaemonProcess, count: number) =>
    waitFor(
      `daemon renewal #${count}`,
      () =>
        d.events.filter((e) => e.msg === "TLS files renewed; new calls use a new connection")
          .length >= count,
      { timeoutMs: 20_000 },
    );
  const fleet = () =>
    createClient(
      FleetService,
      createConnectTransport({
        baseUrl: manager.httpUrl,
        httpVersion: "1.1",
        nodeOptions: { ca: Buffer.concat([a("ca.pem"), b("ca.pem")]) },
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${API_TOKEN}`);
            return next(req);
          },
        ],
      }),
    );
  const freshCall = async (id: string, pki: (f: string) => Buffer, caPem: Buffer) => {
    const dir = tempDir("fleet-rotc-");
    writeFileSync(join(dir, "c.pem"), pki(`node-${id}.pem`));
    writeFileSync(join(dir, "c.key"), pki(`node-${id}.key`));
    writeFileSync(join(dir, "ca.pem"), caPem);
    const conn = createManagerConnection({
      address: `127.0.0.1:${grpcPort}`,
      timeoutMs: 5_000,
      retry: false,
      tls: {
        certFile: join(dir, "c.pem"),
        keyFile: join(dir, "c.key"),
        caFile: join(dir, "ca.pem"),
      },
    });
    try {
      await conn.client.heartbeat({ nodeId: id });
      return "ok";
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    } finally {
      conn.close();
    }
  };

  it("rotates the server certificate, the client certificates and the CA (with overlap) while daemons report, losing nothing", async () => {
    const [d1, d2] = daemons as [DaemonProcess, DaemonProcess];
    const [id1, id2] = ids as [string, string];
    const [s1, s2] = daemonSecrets as [
      ReturnType<typeof secretVolume>,
      ReturnType<typeof secretVolume>,
    ];
    await Promise.all([reportedAfter(d1, 0), reportedAfter(d2, 0)]);
    // Expiry in sight: both programs warn at start; the manager flags the nodes.
    await manager.waitLog(
      (l) => l.msg === "server certificate (FLEET_TLS_CERT) expires within tls.expiry_window",
    );
    for (const d of daemons) {
      expect(d.events.some((e) => e.msg === "the client certificate expires within 14 days")).toBe(
        true,
      );
    }
    const flaggedNode = await waitFor("node certificate flagged", async () => {
      const { node } = await fleet().getNode({ nodeId: ids[0] as string });
      return node?.certExpiring ? node : undefined;
    });
    expect(Number(flaggedNode.certExpiresAt)).toBe(validTo(a(`node-${ids[0]}.pem`)));
    expect(await serverCertOf(grpcPort, a("ca.pem"))).toBe(fingerprintOf(a("server.pem")));
    const bundle = Buffer.concat([a("ca.pem"), b("ca.pem")]);

    // 1. Overlap: both sides trust the old and the new CA.
    mgrSecret.update({ "tls.crt": a("server.pem"), "tls.key": a("server.key"), "ca.crt": bundle });
    for (const [s, id] of [
      [s1, id1],
      [s2, id2],
    ] as const) {
      s.update({
        "tls.crt": a(`node-${id}.pem`),
        "tls.key": a(`node-${id}.key`),
        "ca.crt": bundle,
      });
    }
    await reloaded(1);
    await Promise.all([renewed(d1, 1), renewed(d2, 1)]);

    // 2. The manager moves to a server certificate of the new CA: new handshakes get it.
    mgrSecret.update({ "tls.crt": b("server.pem"), "tls.key": b("server.key"), "ca.crt": bundle });
    await reloaded(2);
    expect(await serverCertOf(grpcPort, bundle)).toBe(fingerprintOf(b("server.pem")));

    // 3. A broken pair (the new certificate with the old key) is refused in one line; the last good one stays.
    mgrSecret.update({ "tls.crt": b("server.pem"), "tls.key": a("server.key"), "ca.crt": bundle });
    await manager.waitLog(
      (l) => l.msg === "new TLS files refused; keeping the certificate in force",
      20_000,
    );
    expect(await serverCertOf(grpcPort, bundle)).toBe(fingerprintOf(b("server.pem")));
    mgrSecret.update({ "tls.crt": b("server.pem"), "tls.key": b("server.key"), "ca.crt": bundle });

    // 4. Daemon 1 gets its new certificate and moves to a new connection.
    s1.update({
      "tls.crt": b(`node-${id1}.pem`),
      "tls.key": b(`node-${id1}.key`),
      "ca.crt": bundle,
    });
    await renewed(d1, 2);
    await reportedAfter(d1, Date.now());

    // 5. The old CA is removed on the manager. Daemon 2 still holds the old CA's certificate:
    // its live connection goes on, but a new connection with that certificate is refused.
    mgrSecret.update({
      "tls.crt": b("server.pem"),
      "tls.key": b("server.key"),
      "ca.crt": b("ca.pem"),
    });
    await reloaded(3);
    expect(await freshCall(id2, a, bundle)).toMatch(/^refused/);
    expect(await freshCall(id1, b, bundle)).toBe("ok");
    await reportedAfter(d2, Date.now());

    // 6. Daemon 2 renews too and drops the old CA from its own trust.
    s2.update({
      "tls.crt": b(`node-${id2}.pem`),
      "tls.key": b(`node-${id2}.key`),
      "ca.crt": b("ca.pem"),
    });
    s1.update({
      "tls.crt": b(`node-${id1}.pem`),
      "tls.key": b(`node-${id1}.key`),
      "ca.crt": b("ca.pem"),
    });
    await Promise.all([renewed(d2, 2), renewed(d1, 3)]);
    const afterAll = Date.now();
    await Promise.all([reportedAfter(d1, afterAll), reportedAfter(d2, afterAll)]);
    // The manager sees the new certificates at the daemons' next heartbeats (still running here).
    for (const id of ids) {
      await waitFor(
        "node certificate renewed",
        async () => {
          const { node } = await fleet().getNode({ nodeId: id });
          return node && Number(node.certExpiresAt) === validTo(b(`node-${id}.pem`));
        },
        { timeoutMs: 30_000 },
      );
    }

    // Nothing lost: every spooled batch was acknowledged (sequence numbers without a
    // gap), the spool is empty after a graceful stop, nothing was dropped.
    for (const [i, d] of daemons.entries()) {
      d.child.kill("SIGTERM");
      expect((await d.exited).code).toBe(0);
      const status = JSON.parse(readFileSync(join(workDirs[i] as string, "status.json"), "utf8"));
      expect(status.spool.batches).toBe(0);
      expect(status.spool.dropped_batches).toBe(0);
      const seqs = d.events
        .filter((e: LogEvent) => e.msg === "reported")
        .flatMap((e) => e.seqs as number[])
        .sort((x, y) => x - y);
      expect(seqs.length).toBeGreaterThan(5);
      const first = seqs[0] as number;
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => first + k));
      expect(d.events.filter((e) => e.level >= 50).map((e) => e.msg)).toEqual([]);
    }
    // The manager stored data from after the last rotation, and shows the new expiry.
    const now = BigInt(Math.floor(Date.now() / 1000));
    for (const id of ids) {
      const res = await fleet().queryMetrics({
        nodeId: id,
        type: "cpu",
        name: "usage_percent",
        start: BigInt(Math.floor(afterAll / 1000) - 1),
        end: now + 5n,
      });
      expect(res.series[0]?.points.length ?? 0).toBeGreaterThan(0);
    }
    const metrics = await httpsGet(`${manager.httpUrl}/metrics`, bundle, API_TOKEN);
    const expiry = (role: string) =>
      Number(
        new RegExp(
          `^fleet_tls_certificate_expiry_timestamp_seconds\\{role="${role}"\\} (\\S+)$`,
          "m",
        ).exec(metrics)?.[1],
      );
    expect(expiry("server")).toBe(validTo(b("server.pem")));
    expect(expiry("client_ca")).toBe(validTo(b("ca.pem")));
    expect(metrics).toMatch(/^fleet_tls_reloads_total\{result="refused"\} 1$/m);
    // The nodes now show their new certificates, not flagged; the daemons report theirs too.
    for (const id of ids) {
      const node = await waitFor("node certificate renewed", async () => {
        const { node } = await fleet().getNode({ nodeId: id });
        return node && Number(node.certExpiresAt) === validTo(b(`node-${id}.pem`))
          ? node
          : undefined;
      });
      expect(node.certExpiring).toBe(false);
      // A daemon moving to a new connection (new certificate) is not a clone.
      expect(node.identityConflict).toBe(false);
      const self = await fleet().queryMetrics({
        nodeId: id,
        type: "daemon",
        name: "tls_cert_expiry_timestamp",
        start: BigInt(Math.floor(afterAll / 1000) - 1),
        end: now + 5n,
      });
      expect(self.series[0]?.points.at(-1)?.value).toBe(validTo(b(`node-${id}.pem`)));
    }
    const fleetText = await httpsGet(`${manager.httpUrl}/metrics/fleet`, bundle, API_TOKEN);
    expect(fleetText).toContain(`fleet_node_certificate_expiring{node_id="${ids[0]}"} 0`);
    const refused = manager.logs.filter(
      (l) => l.msg === "new TLS files refused; keeping the certificate in force",
    );
    expect(refused).toHaveLength(1);
  }, 240_000);
});
