import { join } from "node:path";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { packageRoot } from "../../common/package-root.js";
import type { DatabaseHandle } from "./client.js";
import { rowsOf } from "./queries/rows.js";

/** Advisory-lock key that serializes migrations between replicas starting at once. */
export const MIGRATION_LOCK_KEY = 0x666c_6d31; // "flm1"

const migrationsFolder = () => join(packageRoot(), "drizzle");

/**
 * Applies the drizzle-kit migrations in drizzle/ (idempotent; safe on every
 * start). On PostgreSQL, replicas take turns under an advisory lock, so two
 * starting at once do not both try to create the same tables.
 */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  const config = { migrationsFolder: migrationsFolder() };
  if (handle.kind === "pglite") {
    await migratePglite(handle.db as unknown as PgliteDatabase, config);
    return;
  }
  await handle.withAdvisoryLock(MIGRATION_LOCK_KEY, () =>
    migratePostgres(handle.db as unknown as PostgresJsDatabase, config),
  );
}

/** How many migrations in drizzle/ the database has not applied yet (for /readyz). */
export async function pendingMigrations(handle: DatabaseHandle): Promise<number> {
  const files = readMigrationFiles({ migrationsFolder: migrationsFolder() });
  const result = await handle.db.execute(sql`
    select coalesce(max(created_at), 0)::float8 as last
      from drizzle.__drizzle_migrations`);
  const last = Number(rowsOf<{ last: number }>(result)[0]?.last ?? 0);
  return files.filter((f) => f.folderMillis > last).length;
}
