import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { packageRoot } from "../../src/common/package-root.js";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { uniqueNodeId } from "../helpers/manager.js";
import { type ManagerProcess, spawnManager } from "../helpers/manager-process.js";

/**
 * HTTP/2 and HTTP/1.1 abuse against the real manager process, one attack at a
 * time from a separate attacker process, while an honest daemon keeps calling
 * (a heartbeat on the gRPC port and a ListNodes on the HTTP port every 50 ms).
 * Bounds are loose on purpose (a loaded 2-core machine): the honest client
 * succeeds ≥ 99 %, the manager's RSS grows by less than 400 MiB, and every
 * attacker connection is closed by the manager before the attacker gives up.
 */
const ATTACKS: [attack: string, port: "grpc" | "http", proto: "h2" | "http1"][] = [
  ["rapid-reset", "grpc", "h2"],
  ["continuation-flood", "grpc", "h2"],
  ["big-headers", "grpc", "h2"],
  ["slow-headers", "grpc", "h2"],
  ["no-read", "grpc", "h2"],
  ["idle", "grpc", "h2"],
  // The HTTP port speaks HTTP/1.1: prior-knowledge HTTP/2 frames are garbage there.
  ["rapid-reset", "http", "h2"],
  ["continuation-flood", "http", "h2"],
  ["big-headers", "http", "http1"],
  ["slow-headers", "http", "http1"],
  ["no-read", "http", "http1"],
  ["idle", "http", "http1"],
];
const MAX_RSS_GROWTH = 400 * 1024 * 1024;

interface AttackResult {
  attack: string;
  connections: number;
  closed: number;
  elapsedMs: number;
  [k: string]: unknown;
}

function runAttacker(attack: string, port: number, proto: string): Promise<AttackResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "tests/security/h2-attacker.ts", attack, String(port), proto],
      { cwd: packageRoot(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.once("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !line.startsWith("{"))
        reject(new Error(`attacker ${attack}: ${code} ${err}`));
      else resolve(JSON.parse(line) as AttackResult);
    });
  });
}

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
};

describe("HTTP/2 abuse on both ports of a real manager process", () => {
  let manager: ManagerProcess;
  let baseline = 0;
  const nodeId = uniqueNodeId("honest");
  const figures: string[] = [];

  beforeAll(async () => {
    const dir = tempDir("fleet-abuse-");
    const yaml = join(dir, "manager.yaml");
    // Short timeouts so the test sees idle and stalled connections go; rate limits off
    // for the honest client, which calls far more often than a daemon would.
    writeFileSync(
      yaml,
      "admission: { idle_timeout: 3s, first_request_timeout: 2s, heartbeats_per_second: 0, reports_per_second: 0 }\n",
    );
    manager = await spawnManager({}, ["--config", yaml]);
    baseline = manager.rss();
  }, 120_000);
  afterAll(async () => {
    await manager?.stop();
    process.stdout.write(
      `[http2-abuse] manager RSS at start ${(baseline / 1048576).toFixed(0)} MiB\n${figures.join("\n")}\n`,
    );
  });

  for (const [attack, portName, proto] of ATTACKS) {
    it(`${attack} on the ${portName} port (${proto}): honest calls keep succeeding, memory bounded, attacker closed`, async () => {
      // A daemon's defaults: manager.timeout 30 s per call, retries with backoff.
      const conn = createManagerConnection({ address: manager.grpcUrl, timeoutMs: 30_000 });
      const fleet = createClient(
        FleetService,
        createConnectTransport({
          baseUrl: manager.httpUrl,
          httpVersion: "1.1",
          defaultTimeoutMs: 30_000,
        }),
      );
      await conn.client.registerNode({ nodeId });
      const latencies: number[] = [];
      let failures = 0;
      const errors = new Set<string>();
      let peak = manager.rss();
      let running = true;
      const sampler = setInterval(() => {
        peak = Math.max(peak, manager.rss());
      }, 100);
      const honest = (async () => {
        // Bounded: at most 2,000 rounds (100 s at 50 ms).
        for (let round = 0; running && round < 2_000; round++) {
          for (const call of [
            () =>
              conn.client.heartbeat({ nodeId, timestamp: BigInt(Math.floor(Date.now() / 1000)) }),
            () => fleet.listNodes({ pageSize: 10 }),
          ]) {
            const t0 = performance.now();
            try {
              await call();
              latencies.push(performance.now() - t0);
            } catch (err) {
              failures++;
              errors.add((err as Error).message.slice(0, 160));
            }
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const port = Number(new URL(portName === "grpc" ? manager.grpcUrl : manager.httpUrl).port);
      let result: AttackResult;
      try {
        result = await runAttacker(attack, port, proto);
      } finally {
        running = false;
        await honest;
        clearInterval(sampler);
        conn.close();
      }
      const calls = latencies.length + failures;
      const success = latencies.length / Math.max(1, calls);
      const { attack: _a, proto: _p, ...shown } = result;
      figures.push(
        `[http2-abuse] ${attack} ${portName}/${proto}: ${JSON.stringify(shown)}; honest ${latencies.length}/${calls} ok, p99 ${p99(latencies).toFixed(1)} ms; peak RSS ${(peak / 1048576).toFixed(0)} MiB${errors.size ? `; honest errors: ${[...errors].join(" | ")}` : ""}`,
      );
      expect(calls).toBeGreaterThan(0);
      expect(success).toBeGreaterThanOrEqual(0.99);
      expect(peak - baseline).toBeLessThan(MAX_RSS_GROWTH);
      expect(result.closed, `attacker connections closed: ${JSON.stringify(result)}`).toBe(
        result.connections,
      );
    }, 120_000);
  }

  it("is still serving and counted what it cut", async () => {
    const res = await fetch(`${manager.httpUrl}/metrics`);
    const text = await res.text();
    // The cuts every run makes. "idle" is counted too, but only for a session
    // that falls quiet past idle_timeout, which depends on timing (the attacks
    // above each assert their own connections closed).
    for (const reason of ["no_request", "rapid_reset", "oversized_headers"]) {
      expect(text).toMatch(
        new RegExp(`fleet_http2_sessions_closed_total\\{reason="${reason}"\\} [1-9]`),
      );
    }
  });
});
