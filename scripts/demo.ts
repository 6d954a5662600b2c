/**
 * `npm start`: the manager on embedded PGlite (./.fleet) plus a local daemon
 * reporting this machine, both as real processes. Ctrl-C stops both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
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
      process.exitCode = 1;
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

/**
 * Ready means *our* manager answers /readyz: the probe races the child's exit,
 * so a manager that failed to start (its port taken, its data directory
 * locked by another one) fails the demo instead of another process's answer.
 */
async function waitForOwnReadiness(child: ChildProcess, url: string, deadlineMs: number) {
  let exited = child.exitCode !== null;
  child.once("exit", () => {
    exited = true;
  });
  const until = Date.now() + deadlineMs;
  while (Date.now() < until && !exited) {
    try {
      if ((await fetch(url)).ok && !exited) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    exited
      ? "the manager exited before it was ready (see its message above)"
      : `the manager did not become ready at ${url} within ${deadlineMs} ms`,
  );
}

/** A port someone else listens on would answer our readiness probe: refuse before starting. */
function assertFree(addr: string, envName: string): Promise<void> {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "EADDRINUSE"
            ? `${addr} is already in use (another Fleet manager?); stop it or set ${envName}`
            : `${addr}: ${err.message} (${envName})`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

try {
  await assertFree(httpAddr, "FLEET_HTTP_ADDR");
  await assertFree(grpcAddr, "FLEET_GRPC_ADDR");
} catch (err) {
  console.error(`[demo] ${(err as Error).message}`);
  process.exit(1);
}

children.push(
  run("manager", ["src/manager/main.ts"], {
    FLEET_GRPC_ADDR: grpcAddr,
    FLEET_HTTP_ADDR: httpAddr,
    FLEET_DATA_DIR: dataDir,
    FLEET_LOG_LEVEL: process.env.FLEET_LOG_LEVEL ?? "warn",
  }),
);
let ready = false;
try {
  await waitForOwnReadiness(children[0] as ChildProcess, `http://${httpAddr}/readyz`, 60_000);
  ready = true;
} catch (err) {
  // Exits once the manager (if still running) has stopped.
  console.error(`[demo] ${(err as Error).message}`);
  process.exitCode = 1;
  stop();
}
if (ready) {
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
}
