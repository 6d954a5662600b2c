import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where Debian puts the server binaries; override with PG_BIN_DIR. */
const PG_BIN = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust auth, loopback only). */
  readonly url: string;
  readonly port: number;
  /** The cluster's data directory (owned by the postgres user when run as root). */
  readonly dataDir: string;
  /** Whether the server is up (between start() and stop()). */
  readonly running: boolean;
  /** `pg_ctl stop -m fast`: backends terminated (57P01), new connections refused. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port, waiting until it accepts connections. */
  start(): Promise<void>;
  /** Stops the server if running and removes the data directory. */
  destroy(): Promise<void>;
  /** The server's log so far (for a failing test's message). */
  log(): string;
}

export interface StartPrivatePostgresOptions {
  /** Port to listen on; default a free one. */
  port?: number;
}

/** Whether this machine can run a private cluster (the binaries exist). */
export function privatePostgresAvailable(): boolean {
  return existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl"));
}

/**
 * A throwaway PostgreSQL cluster for fault tests: `initdb` into a temp dir,
 * `pg_ctl` on a free loopback port. Never touch the shared server on 5432 —
 * stopping it would break every other test run on the machine. initdb refuses
 * to run as root, so as root the cluster belongs to the `postgres` user.
 */
export async function startPrivatePostgres(
  opts: StartPrivatePostgresOptions = {},
): Promise<PrivatePostgres> {
  if (!privatePostgresAvailable()) {
    throw new Error(`private PostgreSQL: no initdb/pg_ctl in ${PG_BIN} (set PG_BIN_DIR)`);
  }
  const asRoot = process.getuid?.() === 0;
  const root = mkdtempSync(join(tmpdir(), "fleet-pg-"));
  const dataDir = join(root, "data");
  const logFile = join(root, "server.log");
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  const pg = (bin: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(PG_BIN, bin), ...args])
      : run(join(PG_BIN, bin), args);
  const port = opts.port ?? (await freePort());
  let running = false;

  await pg("initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  // Loopback TCP only, the socket in our own dir (not /var/run/postgresql),
  // no fsync: a test cluster trades durability for speed.
  const serverOptions = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");

  const start = async () => {
    await pg("pg_ctl", [
      "-D",
      dataDir,
      "-l",
      logFile,
      "-o",
      serverOptions,
      "-w",
      "-t",
      "60",
      "start",
    ]);
    running = true;
  };
  const stop = async () => {
    await pg("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    running = false;
  };
  // A test process that dies without destroy() must not leave a server behind.
  const onExit = () => {
    if (!running) return;
    try {
      const args = ["-D", dataDir, "-m", "immediate", "stop"];
      if (asRoot)
        execFileSync("runuser", ["-u", "postgres", "--", join(PG_BIN, "pg_ctl"), ...args]);
      else execFileSync(join(PG_BIN, "pg_ctl"), args);
    } catch {
      // Already gone: nothing to stop.
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  try {
    await start();
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    get running() {
      return running;
    },
    stop,
    start,
    log: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async destroy() {
      process.off("exit", onExit);
      if (running) {
        await pg("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
        running = false;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A loopback TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
