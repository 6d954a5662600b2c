import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/common/package-root.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { spawnDaemon } from "../helpers/daemon-process.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

// Child processes (tsx) are slow on a busy machine.
describe("strict configuration files, as run by operators", { timeout: 180_000 }, () => {
  let manager: Manager;
  beforeAll(async () => {
    manager = await startTestManager();
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("a misspelled daemon.yaml: every problem in one message, exit 2, before any connection", async () => {
    const dir = tempDir();
    // Something listening where the daemon would connect, counting connections.
    let connections = 0;
    const listener = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const port = (listener.address() as net.AddressInfo).port;
    const file = join(dir, "daemon.yaml");
    writeFileSync(
      file,
      `daemon: { work_dir: ${dir} }
manager: { adress: "127.0.0.1:${port}", heartbeat_intervall: 10s }
colectors: { cpu: { enabled: true } }
`,
    );
    try {
      const d = spawnDaemon(["--config", file], { MANAGER_ADDRESS: `127.0.0.1:${port}` });
      expect((await d.exited).code).toBe(2);
      expect(d.stderr()).toBe(
        `fleet-daemon: invalid configuration:
  manager.adress (${file}): unknown key, did you mean manager.address?
  manager.heartbeat_intervall (${file}): unknown key, did you mean manager.heartbeat_interval?
  colectors (${file}): unknown key, did you mean collectors?
`,
      );
      expect(connections).toBe(0);
    } finally {
      listener.close();
    }
  });

  it("the existing system's daemon.yaml runs, with one warning line per unimplemented key", async () => {
    const dir = tempDir();
    const nodeId = uniqueNodeId("go-shape");
    const goYaml = readFileSync(join(packageRoot(), "tests/fixtures/go-daemon.yaml"), "utf8")
      .replace('id: "go-shape-1"', `id: "${nodeId}"`)
      .replace("work_dir: /var/lib/fleet-daemon", `work_dir: ${dir}`)
      .replace(
        'address: "manager.example.com:9090"',
        `address: "${new URL(manager.grpcUrl).host}"`,
      );
    const file = join(dir, "daemon.yaml");
    writeFileSync(file, goYaml);
    const d = spawnDaemon(["--config", file, "--once"]);
    expect((await d.exited).code).toBe(0);
    const warnings = d.events.filter((e) => e.level === 40).map((e) => e.msg);
    expect(warnings).toHaveLength(11);
    for (const key of [
      "daemon.log_file",
      "daemon.pid_file",
      "daemon.grpc_port",
      "daemon.http_port",
      "daemon.pprof_enabled",
      "daemon.pprof_port",
      "daemon.max_procs",
      "agent",
      "agents",
      "agent_defaults",
      "update",
    ]) {
      expect(
        warnings.filter((w) => w.startsWith(`config: ${key} (${file}): not implemented`)),
      ).toHaveLength(1);
    }
    const [row] = await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, nodeId));
    expect(row).toMatchObject({ status: "online", requestedIntervalSeconds: 30 });
  });

  it("a misspelled manager.yaml: every problem in one message, exit 2", async () => {
    const dir = tempDir();
    const file = join(dir, "manager.yaml");
    writeFileSync(file, "grpc: { adr: '127.0.0.1:0' }\nliveness: { forget_afer: 7d }\n");
    const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "src/manager/main.ts", "--config", file],
        {
          cwd: packageRoot(),
          env: { ...process.env, FLEET_DATA_DIR: join(dir, "data") },
          timeout: 90_000,
        },
        (err, _stdout, stderr) =>
          resolve({ code: err && typeof err.code === "number" ? err.code : 0, stderr }),
      ),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `fleet-manager: invalid configuration:
  grpc.adr (${file}): unknown key, did you mean grpc.addr?
  liveness.forget_afer (${file}): unknown key, did you mean liveness.forget_after?
`,
    );
  });
});
