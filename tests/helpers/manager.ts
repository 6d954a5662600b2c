import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { createLogger } from "../../src/common/logging.js";
import { MANAGER_DEFAULTS, type ManagerConfig } from "../../src/manager/config.js";
import { type DatabaseHandle, openDatabase } from "../../src/manager/db/client.js";
import { runMigrations } from "../../src/manager/db/migrate.js";
import {
  type CreateManagerOptions,
  createManager,
  type Manager,
} from "../../src/manager/server.js";

/** The database for this test file: the shared PostgreSQL one, or a fresh in-memory PGlite. */
export function testDatabaseConfig(): Pick<ManagerConfig, "databaseUrl" | "dataDir"> {
  const url = inject("databaseUrl");
  return url ? { databaseUrl: url, dataDir: "" } : { databaseUrl: undefined, dataDir: "memory://" };
}

/**
 * A database of this file's own, for tests that read fleet-wide output (every
 * node's series in /metrics/fleet) which other files' rows in the shared
 * PostgreSQL database would change: a fresh migrated database on the same
 * server, dropped by `drop()`; on PGlite the file's in-memory one already is.
 */
export async function ownTestDatabase(): Promise<{
  config: Pick<ManagerConfig, "databaseUrl" | "dataDir">;
  drop: () => Promise<void>;
}> {
  const shared = inject("databaseUrl");
  if (!shared) return { config: testDatabaseConfig(), drop: async () => {} };
  const url = new URL(shared);
  const name = `${url.pathname.slice(1)}_own_${randomBytes(3).toString("hex")}`;
  const admin = postgres(shared, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), dataDir: "" });
  await runMigrations(handle);
  await handle.close();
  return {
    config: { databaseUrl: url.toString(), dataDir: "" },
    drop: async () => {
      const sql = postgres(shared, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}

/**
 * An open, migrated handle on a database of this file's own (ownTestDatabase),
 * for tests that drive the query layer directly; close() closes and drops it.
 */
export async function openOwnDatabase(): Promise<{
  handle: DatabaseHandle;
  close: () => Promise<void>;
}> {
  const own = await ownTestDatabase();
  const handle = await openDatabase({ url: own.config.databaseUrl, dataDir: own.config.dataDir });
  await runMigrations(handle);
  return {
    handle,
    close: async () => {
      await handle.close();
      await own.drop();
    },
  };
}

/** Config for a manager on 127.0.0.1:0 (both ports) against the test database. */
export function testManagerConfig(overrides: Partial<ManagerConfig> = {}): ManagerConfig {
  return {
    ...MANAGER_DEFAULTS,
    grpcAddr: { host: "127.0.0.1", port: 0 },
    httpAddr: { host: "127.0.0.1", port: 0 },
    logLevel: "silent",
    ...testDatabaseConfig(),
    ...overrides,
  };
}

/** Starts a real manager; call stop() in afterAll. */
export async function startTestManager(
  overrides: Partial<ManagerConfig> = {},
  options: CreateManagerOptions = {},
): Promise<Manager> {
  const config = testManagerConfig(overrides);
  const manager = createManager(config, {
    logger: createLogger(
      "fleet-manager-test",
      process.env.TEST_LOG_LEVEL === "debug" ? "debug" : "silent",
    ),
    ...options,
  });
  await manager.start();
  return manager;
}

/** Runs `body` against a fresh manager and always stops it (only one sweeper per database). */
export async function withTestManager(
  overrides: Partial<ManagerConfig>,
  body: (m: Manager) => Promise<void>,
): Promise<void> {
  const m = await startTestManager(overrides);
  try {
    await body(m);
  } finally {
    await m.stop();
  }
}

/** A RegisterNode request with every field a daemon sends (values plain). */
export const registration = (nodeId: string) => ({
  nodeId,
  hostname: "h",
  ip: "",
  os: "linux",
  arch: "x64",
  labels: {},
  daemonVersion: "1",
  agentVersion: "",
});

/**
 * The two ways the gRPC port serves ManagerService: the fast path
 * (fast-path/, the default) and connect-node (`grpc.fast_path: false`). Suites
 * of the daemon-facing contract run on both with describe.each, so they agree.
 */
export const GRPC_PATHS = [
  { path: "fast path", grpcFastPath: true },
  { path: "connect-node", grpcFastPath: false },
] as const;

/** A node id no other test (or test run on the shared database) uses. */
export function uniqueNodeId(prefix = "node"): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
