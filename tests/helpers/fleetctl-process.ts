import { type ChildProcess, execFile, spawn } from "node:child_process";

export const FLEETCTL_MAIN = "src/fleetctl/main.ts";

export interface FleetctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment fleetctl runs with: the caller's, without FLEET_* settings leaking in. */
export const fleetctlEnv = (env: Record<string, string> = {}) => ({
  ...process.env,
  FLEET_SERVER: "",
  FLEET_API_TOKEN: "",
  FLEET_CA: "",
  ...env,
});

/**
 * Runs `node --import tsx src/fleetctl/main.ts ...args` as a process and
 * collects its exit code and output (stdout is not a terminal: COLUMNS gives the width).
 */
export function runFleetctl(
  args: string[],
  env: Record<string, string> = {},
): Promise<FleetctlRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", FLEETCTL_MAIN, ...args],
      { env: fleetctlEnv(env), timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts fleetctl as a long-running process (`watch`), its output piped. */
export const spawnFleetctl = (args: string[]): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", FLEETCTL_MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: fleetctlEnv(),
  });
