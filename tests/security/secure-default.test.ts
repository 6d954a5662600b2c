import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  insecureListenerProblem,
  MANAGER_DEFAULTS,
  type ManagerConfig,
} from "../../src/manager/config.js";
import { tempDir } from "../helpers/daemon-harness.js";

/** Runs the real entry point; it must exit before opening a socket or the database. */
function runManager(env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/manager/main.ts", ...args], {
      env: { PATH: process.env.PATH ?? "", FLEET_LOG_LEVEL: "error", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("secure by default", () => {
  it("refuses to listen beyond loopback without authentication: exit 2, one line, nothing opened", async () => {
    const data = join(tempDir("fleet-secure-"), "data");
    const cases: Record<string, string>[] = [
      { FLEET_GRPC_ADDR: "0.0.0.0:0" },
      { FLEET_HTTP_ADDR: "0.0.0.0:0" },
      // The enrollment token covers ManagerService, but FleetService is on that port too.
      { FLEET_GRPC_ADDR: "0.0.0.0:0", FLEET_ENROLL_TOKEN: "enroll-0123456789abcdef" },
    ];
    for (const env of cases) {
      const { code, stderr } = await runManager({ ...env, FLEET_DATA_DIR: data });
      expect(code).toBe(2);
      const lines = stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^fleet-manager: refusing to listen beyond loopback without authentication: .*0\.0\.0\.0:0 needs .*FLEET_API_TOKEN.* \(or pass --insecure\)$/,
      );
      // It stopped before the database: the embedded data directory was never created.
      expect(existsSync(data)).toBe(false);
    }
  });

  it("knows which configurations are safe (pure check; no socket is opened here)", () => {
    const cfg = (over: Partial<ManagerConfig>): ManagerConfig => ({ ...MANAGER_DEFAULTS, ...over });
    const any = { host: "0.0.0.0", port: 0 };
    const auth = (apiToken: string, enrollToken: string) => ({
      apiToken,
      enrollToken,
      bindNodeIdentity: true,
    });
    expect(insecureListenerProblem(cfg({}))).toBeUndefined();
    expect(insecureListenerProblem(cfg({ grpcAddr: { host: "::1", port: 0 } }))).toBeUndefined();
    expect(insecureListenerProblem(cfg({ grpcAddr: any }))).toMatch(/gRPC 0\.0\.0\.0:0 needs/);
    expect(insecureListenerProblem(cfg({ grpcAddr: any, insecure: true }))).toBeUndefined();
    expect(
      insecureListenerProblem(
        cfg({ grpcAddr: any, httpAddr: any, auth: auth("a".repeat(16), "b".repeat(16)) }),
      ),
    ).toBeUndefined();
    expect(
      insecureListenerProblem(
        cfg({
          grpcAddr: any,
          auth: auth("a".repeat(16), ""),
          tls: {
            ...MANAGER_DEFAULTS.tls,
            certFile: "s.pem",
            keyFile: "s.key",
            clientCaFile: "ca.pem",
          },
        }),
      ),
    ).toBeUndefined();
    expect(
      insecureListenerProblem(
        cfg({
          grpcAddr: any,
          auth: auth("a".repeat(16), ""),
          tls: { ...MANAGER_DEFAULTS.tls, certFile: "s.pem", keyFile: "s.key", clientCaFile: "" },
        }),
      ),
    ).toMatch(/FLEET_TLS_CERT\/KEY\/CLIENT_CA or FLEET_ENROLL_TOKEN/);
    expect(
      insecureListenerProblem(cfg({ httpAddr: any, auth: auth("a".repeat(16), "") })),
    ).toBeUndefined();
  });
});
