import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { writeCertificates } from "../../src/manager/certs.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import type { Manager } from "../../src/manager/server.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { spawnDaemon } from "../helpers/daemon-process.js";
import { runFleetctl } from "../helpers/fleetctl-process.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

/** The one line a failed first call of a daemon explains itself with. */
async function daemonDiagnosis(
  address: string,
  tls?: { certFile: string; keyFile: string; caFile: string },
  nodeId = uniqueNodeId("err"),
): Promise<string> {
  const connection = createManagerConnection({ address, timeoutMs: 5_000, retry: false, tls });
  try {
    await connection.client.registerNode({ nodeId });
  } catch (err) {
    return connection.diagnose(err);
  } finally {
    connection.close();
  }
  throw new Error("expected the call to fail");
}

// Child processes (tsx) are slow on a busy machine.
describe("errors that say what to fix", { timeout: 180_000 }, () => {
  const pki = tempDir("fleet-pki-");
  const f = (name: string) => join(pki, name);
  const nodeA = uniqueNodeId("cert-a");
  const nodeB = uniqueNodeId("cert-b");
  let plain: Manager;
  let secure: Manager;
  let tlsOf: (node: string) => { certFile: string; keyFile: string; caFile: string };

  beforeAll(async () => {
    writeCertificates({
      outDir: pki,
      nodes: [nodeA, nodeB],
      hosts: ["localhost", "127.0.0.1"],
      days: 2,
    });
    tlsOf = (node) => ({
      certFile: f(`node-${node}.pem`),
      keyFile: f(`node-${node}.key`),
      caFile: f("ca.pem"),
    });
    plain = await startTestManager();
    secure = await startTestManager({
      tls: {
        ...MANAGER_DEFAULTS.tls,
        certFile: f("server.pem"),
        keyFile: f("server.key"),
        clientCaFile: f("ca.pem"),
      },
    });
  });
  afterAll(async () => {
    await plain?.stop();
    await secure?.stop();
  });
  const hostOf = (url: string) => new URL(url).host;

  it("daemon → the HTTP port: names the port and says which one to use", async () => {
    const address = hostOf(plain.httpUrl);
    const line = await daemonDiagnosis(address);
    expect(line).toBe(
      `[Internal] manager.address ${address} answers HTTP/1.1, so it is not the manager's gRPC port (it looks like its HTTP port: dashboard, /metrics, Connect API); point manager.address at the gRPC port (the manager's FLEET_GRPC_ADDR, default 127.0.0.1:9090)`,
    );
  });

  it("plaintext daemon → TLS manager: says the manager speaks TLS and that manager.tls sets it", async () => {
    const address = hostOf(secure.grpcUrl);
    const line = await daemonDiagnosis(address);
    expect(line).toMatch(
      new RegExp(
        `^\\[\\w+\\] manager\\.address ${address} speaks TLS \\(the manager sets FLEET_TLS_CERT/FLEET_TLS_KEY\\) but this daemon speaks plaintext because manager\\.tls is not set: set manager\\.tls\\.cert_file, key_file and ca_file$`,
      ),
    );
  });

  it("TLS daemon → plaintext manager: says the manager speaks plaintext and which keys set TLS", async () => {
    const address = hostOf(plain.grpcUrl);
    const line = await daemonDiagnosis(address, tlsOf(nodeA), nodeA);
    expect(line).toMatch(
      /^\[\w+\] manager\.address .* speaks plaintext gRPC \(the manager has no FLEET_TLS_CERT\/FLEET_TLS_KEY\) but this daemon speaks TLS because manager\.tls is set: /,
    );
    expect(line).not.toContain("\n");
  });

  it("certificate identity mismatch: names both identities, no CA hint", async () => {
    const line = await daemonDiagnosis(
      `localhost:${new URL(secure.grpcUrl).port}`,
      tlsOf(nodeB),
      nodeA,
    );
    expect(line).toBe(
      `[PermissionDenied] node_id: "${nodeA}" is not the client certificate's node "${nodeB}" — set daemon.id (or NODE_NAME) to the certificate's node, or give this daemon its own certificate (manager.tls.cert_file/key_file)`,
    );
    expect(line).not.toMatch(/ca_file|CA/);
  });

  it("fleetctl → the gRPC port: says it is the gRPC port and where the HTTP port is", async () => {
    const server = plain.grpcUrl;
    const run = await runFleetctl(["--server", server, "nodes"]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      `fleetctl nodes: --server ${server} is the manager's gRPC port (HTTP/2 only, for daemons); fleetctl talks to its HTTP port (the manager's FLEET_HTTP_ADDR, default http://127.0.0.1:8080)`,
    );
  });

  it("fleetctl → HTTPS with a private CA: suggests --ca, and --ca FILE or FLEET_CA fixes it", async () => {
    const server = `https://localhost:${new URL(secure.httpUrl).port}`;
    const refused = await runFleetctl(["--server", server, "nodes"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `fleetctl nodes: --server ${server}: the manager's certificate is signed by a CA this machine does not trust; pass --ca FILE (env FLEET_CA), e.g. the ca.pem written by fleet-manager certs`,
    );
    const withFlag = await runFleetctl([
      "--server",
      server,
      "--ca",
      f("ca.pem"),
      "--json",
      "nodes",
    ]);
    expect(withFlag.stderr).toBe("");
    expect(withFlag.code).toBe(0);
    expect(JSON.parse(withFlag.stdout)).toHaveProperty("total");
    const withEnv = await runFleetctl(["--server", server, "--json", "nodes"], {
      FLEET_CA: f("ca.pem"),
    });
    expect(withEnv.code).toBe(0);
    const missing = await runFleetctl(["--server", server, "nodes"], {
      FLEET_CA: join(pki, "nope.pem"),
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(
      `fleetctl: --ca (env FLEET_CA): cannot read "${join(pki, "nope.pem")}" (ENOENT)`,
    );
    // http:// against the HTTPS port.
    const scheme = await runFleetctl(["--server", server.replace("https:", "http:"), "nodes"]);
    expect(scheme.stderr.trim()).toMatch(
      /: the manager speaks TLS there \(it sets FLEET_TLS_CERT\); use https:\/\//,
    );
  });

  it("an unwritable work_dir: one line naming it, --work-dir and StateDirectory, exit 2, no stack trace", async () => {
    const dir = "/etc/passwd/fleet";
    const d = spawnDaemon(["--once", "--work-dir", dir]);
    expect((await d.exited).code).toBe(2);
    expect(d.stderr()).toBe(
      `fleet-daemon: daemon.work_dir "${dir}" is not writable (ENOTDIR): pass --work-dir DIR (or set daemon.work_dir) to a folder this user owns, or run fleet-daemon from its systemd unit, whose StateDirectory=fleet-daemon creates /var/lib/fleet-daemon for it\n`,
    );
    expect(d.stdout()).toBe("");
  });
});
