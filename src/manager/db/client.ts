import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { lockDataDir } from "./data-dir-lock.js";
import * as fleetRollupSchema from "./schema/fleet-rollup.js";
import * as leasesSchema from "./schema/leases.js";
import * as metricsSchema from "./schema/metrics.js";
import * as nodesSchema from "./schema/nodes.js";

export const schema = { ...nodesSchema, ...metricsSchema, ...leasesSchema, ...fleetRollupSchema };

/** The same Drizzle API over postgres.js (DATABASE_URL) or embedded PGlite. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: "postgres" | "pglite";
  /** Where the data lives, for logs (no password). */
  readonly where: string;
  /**
   * Runs `fn` holding a PostgreSQL session advisory lock (waiting for it), on a
   * connection of its own opened for the purpose and closed after. Never a
   * reserved pool connection: postgres.js crashes the process when a reserved
   * connection's backend is terminated (postgres.js#1208, e.g. a database
   * restart). If that connection drops, the lock goes with it and `fn` goes on
   * unguarded, so `fn` must be safe to run twice at once (idempotent DDL).
   * PGlite has one session and one process (data-dir lock), so there it just runs `fn`.
   */
  withAdvisoryLock<T>(key: number, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; unset means embedded PGlite. */
  url?: string | undefined;
  /** PGlite data directory, or "memory://" for an in-memory database. */
  dataDir: string;
  /** postgres.js pool size. */
  poolSize?: number;
}

/** Opens the configured database. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.url) {
    const client = postgres(opts.url, {
      max: opts.poolSize ?? 10,
      onnotice: () => {},
      connection: { application_name: "fleet-manager" },
    });
    const db = drizzlePostgres(client, { schema }) as unknown as Database;
    const u = new URL(opts.url);
    return {
      db,
      kind: "postgres",
      where: `postgres://${u.host}${u.pathname}`,
      withAdvisoryLock: async (key, fn) => {
        const locker = postgres(opts.url as string, {
          max: 1,
          onnotice: () => {},
          connection: { application_name: "fleet-manager-lock" },
        });
        try {
          await locker`select pg_advisory_lock(${key})`;
          return await fn();
        } finally {
          // Ending the session releases the lock; no unlock round trip that could fail.
          await locker.end({ timeout: 5 });
        }
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  const unlock = opts.dataDir.startsWith("memory://") ? () => {} : lockDataDir(opts.dataDir);
  let client: PGlite;
  try {
    client = await PGlite.create(opts.dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    where: opts.dataDir,
    withAdvisoryLock: (_key, fn) => fn(),
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}
