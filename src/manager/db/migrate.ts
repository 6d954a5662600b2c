import { join } from "node:path";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { packageRoot } from "../../common/package-root.js";
import type { DatabaseHandle } from "./client.js";

/** Applies the drizzle-kit migrations in drizzle/ (idempotent; safe on every start). */
export async function runMigrations(handle: DatabaseHandle): Promise<void> {
  const migrationsFolder = join(packageRoot(), "drizzle");
  if (handle.kind === "pglite") {
    await migratePglite(handle.db as unknown as PgliteDatabase, { migrationsFolder });
  } else {
    await migratePostgres(handle.db as unknown as PostgresJsDatabase, { migrationsFolder });
  }
}
