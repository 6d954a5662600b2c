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
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (!opts.dataDir.startsWith("memory://")) mkdirSync(opts.dataDir, { recursive: true });
  const client = await PGlite.create(opts.dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return { db, kind: "pglite", where: opts.dataDir, close: () => client.close() };
}
