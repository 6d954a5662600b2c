/**
 * `npm start`: the manager on embedded PGlite (./.fleet) plus a local daemon
 * reporting this machine, both as real processes. Ctrl-C stops both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { packageRoot } from "../src/common/package-root.js";

const root = packageRoot();
const grpcAddr = process.env.FLEET_GRPC_ADDR ?? "127.0.0.1:9090";
const httpAddr = process.env.FLEET_HTTP_ADDR ?? "127.0.0.1:8080";
const dataDir = process.env.FLEET_DATA_DIR ?? join(root, ".fleet");
const tsx = ["--import", "tsx"];

function run(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [...tsx, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[demo] ${name} exited (${signal ?? code}); stopping`);
      stop();
    }
  });
  return child;
}

let stopping = false;
const children: ChildProcess[] = [];
function stop() {
  stopping = true;
  for (const c of children) c.kill("SIGTERM");
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

async function waitForHttp(url: string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`manager did not become ready at ${url} within ${deadlineMs} ms`);
}

children.push(
  run("manager", ["src/manager/main.ts"], {
    FLEET_GRPC_ADDR: grpcAddr,
    FLEET_HTTP_ADDR: httpAddr,
    FLEET_DATA_DIR: dataDir,
    FLEET_LOG_LEVEL: process.env.FLEET_LOG_LEVEL ?? "warn",
  }),
);
await waitForHttp(`http://${httpAddr}/readyz`, 60_000);
children.push(
  run("daemon", ["src/daemon/main.ts", "--config", join(root, "scripts/demo-daemon.yaml")], {
    MANAGER_ADDRESS: grpcAddr,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  }),
);
console.log(`
Fleet is running (data in ${dataDir}).
  dashboard   http://${httpAddr}/
  nodes       curl -s -H 'content-type: application/json' -d '{}' http://${httpAddr}/fleet.v1.FleetService/ListNodes
  health      curl -s http://${httpAddr}/readyz
  gRPC        ${grpcAddr}  (daemons connect here)
Ctrl-C stops both.
`);
