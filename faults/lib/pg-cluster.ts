import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./ports.js";

const BIN = "/usr/lib/postgresql/15/bin";

/** A PostgreSQL cluster of our own (never the shared one on 5432), so the suite may stop it. */
export interface PrivatePostgres {
  readonly port: number;
  /** postgres://…/db on this cluster. */
  url(db?: string): string;
  /** A fresh, empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop -m fast: terminates backends (57P01) and refuses new connections. */
  stop(): void;
  start(): void;
  /** Starts the server if a scenario left it stopped. */
  ensureRunning(): void;
  /** Stops the server and removes its directory. */
  destroy(): void;
}

/**
 * initdb into a temp dir and pg_ctl start on a free loopback port. initdb
 * refuses to run as root, so as root both run as the `postgres` user, which
 * then owns the directory.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-faults-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ["-u", "postgres", "--", join(BIN, cmd), ...args] : args;
    const r = spawnSync(asRoot ? "runuser" : join(BIN, cmd), argv, { encoding: "utf8" });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
  else chownSync(dir, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "start"]);
  const stop = () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  start();
  const url = (db = "postgres") => `postgres://postgres@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const admin = postgres(url(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.unsafe(`create database ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    stop,
    start,
    ensureRunning() {
      const argv = ["-D", data, "status"];
      const r = asRoot
        ? spawnSync("runuser", ["-u", "postgres", "--", join(BIN, "pg_ctl"), ...argv])
        : spawnSync(join(BIN, "pg_ctl"), argv);
      if (r.status !== 0) start();
    },
    destroy() {
      try {
        stop();
      } catch {
        // Already stopped (a scenario failed mid-outage): the directory goes anyway.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
