import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../tests/helpers/private-postgres.js";
import { REPO } from "./build.js";
import { type Proc, spawnProc, waitFor } from "./proc.js";
import type { ScenarioContext } from "./scenario.js";

export interface ManagerProc extends Proc {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly grpcAddress: string;
  ready(): Promise<boolean>;
}

export interface ManagerPorts {
  grpcPort: number;
  httpPort: number;
}

export async function managerPorts(): Promise<ManagerPorts> {
  return { grpcPort: await freePort(), httpPort: await freePort() };
}

/** manager.yaml for the suite: daemons asked for 1 s heartbeats. */
export function writeManagerYaml(dir: string, extra = ""): string {
  const file = join(dir, "manager.yaml");
  writeFileSync(file, `heartbeat: { interval: 1s }\nshutdown: { timeout: 10s }\n${extra}`);
  return file;
}

/** The built manager (dist/src/manager/main.js) on loopback ports, logging to dir/<name>.log. */
export function startManager(o: {
  name: string;
  dir: string;
  databaseUrl: string;
  ports: ManagerPorts;
  config?: string;
}): ManagerProc {
  const config = o.config ?? writeManagerYaml(o.dir);
  const p = spawnProc(
    o.name,
    process.execPath,
    [join(REPO, "dist/src/manager/main.js"), "--config", config],
    {
      log: join(o.dir, `${o.name}.log`),
      env: {
        DATABASE_URL: o.databaseUrl,
        FLEET_GRPC_ADDR: `127.0.0.1:${o.ports.grpcPort}`,
        FLEET_HTTP_ADDR: `127.0.0.1:${o.ports.httpPort}`,
        FLEET_LOG_LEVEL: "warn",
        FLEET_API_TOKEN: "",
        FLEET_ENROLL_TOKEN: "",
      },
    },
  );
  const ready = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${o.ports.httpPort}/readyz`, {
        signal: AbortSignal.timeout(2_000),
      });
      return r.status === 200;
    } catch {
      return false;
    }
  };
  return Object.assign(p, {
    ...o.ports,
    grpcAddress: `127.0.0.1:${o.ports.grpcPort}`,
    ready,
  }) as ManagerProc;
}

/** Starts a manager and waits for /readyz (failing early if it exits). */
export async function startReadyManager(
  o: Parameters<typeof startManager>[0],
): Promise<ManagerProc> {
  const m = startManager(o);
  await waitFor(
    `${o.name} ready`,
    async () => {
      if (!m.running) throw new Error(`${o.name} exited (see ${o.dir}/${o.name}.log)`);
      return m.ready();
    },
    60_000,
  );
  return m;
}

/** The one manager of a scenario that needs no restart: fresh ports, the scenario's database. */
export async function startScenarioManager(ctx: ScenarioContext): Promise<ManagerProc> {
  return startReadyManager({
    name: "manager",
    dir: ctx.dir,
    databaseUrl: ctx.databaseUrl,
    ports: await managerPorts(),
  });
}
