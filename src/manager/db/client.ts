import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as metricsSchema from "./schema/metrics.js";
import * as nodesSchema from "./schema/nodes.js";

export const schema = { ...nodesSchema, ...metricsSchema };

/** The same Drizzle API over postgres.js (DATABASE_URL) or embedded PGlite. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: "postgres" | "pglite";
  /** Where the data lives, for logs (no password). */
  readonly where: string;
  /**
   * A PostgreSQL session-level advisory lock on its own connection, held until
   * released or the connection drops. `wait` blocks until it is free; `try`
   * returns undefined when another session holds it. PGlite has one session,
   * so there the lock is always granted.
   */
  advisoryLock(key: number, mode: "wait" | "try"): Promise<HeldLock | undefined>;
  close(): Promise<void>;
}

export interface HeldLock {
  /** False once the connection holding the lock is gone (the lock with it). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
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
      advisoryLock: async (key, mode) => {
        const conn = await client.reserve();
        try {
          if (mode === "wait") await conn`select pg_advisory_lock(${key})`;
          else {
            const [row] = await conn`select pg_try_advisory_lock(${key}) as ok`;
            if (!row?.ok) {
              conn.release();
              return undefined;
            }
          }
        } catch (err) {
          conn.release();
          throw err;
        }
        let released = false;
        return {
          stillHeld: async () => {
            if (released) return false;
            try {
              await conn`select 1`;
              return true;
            } catch {
              return false;
            }
          },
          release: async () => {
            if (released) return;
            released = true;
            try {
              await conn`select pg_advisory_unlock(${key})`;
            } finally {
              conn.release();
            }
          },
        };
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (!opts.dataDir.startsWith("memory://")) mkdirSync(opts.dataDir, { recursive: true });
  const client = await PGlite.create(opts.dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  let closed = false;
  return {
    db,
    kind: "pglite",
    where: opts.dataDir,
    advisoryLock: async () => ({
      stillHeld: async () => !closed,
      release: async () => {},
    }),
    close: async () => {
      closed = true;
      await client.close();
    },
  };
}
