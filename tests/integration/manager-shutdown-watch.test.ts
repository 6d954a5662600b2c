import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerClient } from "../../src/daemon/transport/client.js";
import { createFleetClient } from "../../src/fleetctl/client.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { registration, uniqueNodeId } from "../helpers/manager.js";
import { spawnEmbedded } from "../helpers/manager-process.js";
import { freePort } from "../helpers/private-postgres.js";
import { waitFor } from "../helpers/wait.js";

const run = spawnEmbedded;

/**
 * SIGTERM with WatchNodes streams open (fleetctl watch, a dashboard-like
 * Connect stream on the HTTP port, a gRPC stream): every stream ends at once,
 * the manager exits inside a 2 s shutdown timeout without "outlived" warnings,
 * and fleetctl reconnects to the manager that takes over the port.
 */
describe("shutdown with watchers (real processes)", () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGKILL");
        await once(c, "exit");
      }
    }
  });

  it("ends every stream promptly on SIGTERM; fleetctl watch reconnects to the next manager", async () => {
    const dataDir = tempDir("fleet-shutdown-");
    const configFile = join(dataDir, "manager.yaml");
    // The target: shut down inside 2 s, or the manager logs that requests outlived it.
    writeFileSync(configFile, "shutdown:\n  timeout: 2s\n");
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const env = {
      FLEET_DATA_DIR: join(dataDir, "db"),
      FLEET_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    };
    const http = `http://127.0.0.1:${httpPort}`;
    const grpc = `http://127.0.0.1:${grpcPort}`;
    const startManager = async () => {
      const m = run(["src/manager/main.ts", "--config", configFile], env);
      children.push(m.child);
      await waitFor("manager ready", async () => (await fetch(`${http}/readyz`)).ok, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      return m;
    };
    const register = (nodeId: string) =>
      createManagerClient({ address: grpc, timeoutMs: 5_000, retry: false }).registerNode(
        registration(nodeId),
      );

    const manager = await startManager();
    const watcher = run(["src/fleetctl/main.ts", "--server", http, "--json", "watch"]);
    children.push(watcher.child);
    // Two more streams held by this process: Connect over HTTP/1.1 (as the
    // dashboard's fetch) and gRPC on the gRPC port.
    const streams = [
      createFleetClient({ server: http, token: undefined, timeoutMs: 5_000 }),
      createClient(FleetService, createGrpcTransport({ baseUrl: grpc })),
    ].map((client) => {
      const s = { opened: false, ended: "" };
      void (async () => {
        try {
          for await (const _e of client.watchNodes({})) s.opened = true;
          s.ended = "ended";
        } catch (err) {
          s.ended = String(err);
        }
      })();
      return s;
    });
    const first = uniqueNodeId("sigterm");
    // Until fleetctl (which starts at "now") has printed one: its stream is open. Bounded.
    await waitFor(
      "fleetctl watching",
      async () => {
        if (!watcher.out.stdout.includes(first)) await register(first);
        return watcher.out.stdout.includes(first);
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await waitFor("both in-process streams open", () => streams.every((s) => s.opened));

    const t0 = performance.now();
    manager.child.kill("SIGTERM");
    const code = await manager.exited;
    const shutdownMs = Math.round(performance.now() - t0);
    console.log(`[shutdown with 3 open WatchNodes streams] exit ${code} after ${shutdownMs} ms`);
    expect(code).toBe(0);
    expect(manager.out.stderr).not.toContain("outlived the shutdown timeout");
    await waitFor("in-process streams ended", () => streams.every((s) => s.ended !== ""));

    // The next manager on the same port: fleetctl resumes after its last event.
    const next = await startManager();
    const second = uniqueNodeId("sigterm");
    await waitFor(
      "fleetctl reconnected",
      async () => {
        if (!watcher.out.stdout.includes(second)) await register(second).catch(() => undefined);
        return watcher.out.stdout.includes(second);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(watcher.out.stderr).toMatch(/watch: .*reconnecting after event/);
    expect(watcher.child.exitCode).toBeNull();
    watcher.child.kill("SIGINT");
    expect(await watcher.exited).toBe(0);
    next.child.kill("SIGTERM");
    expect(await next.exited).toBe(0);
  }, 180_000);
});
