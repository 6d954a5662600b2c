import { randomBytes } from "node:crypto";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../src/manager/db/client.js";
import { runMigrations } from "../src/manager/db/migrate.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A fresh, migrated PostgreSQL database, or "" to use in-memory PGlite per file. */
    databaseUrl: string;
  }
}

/**
 * With TEST_DATABASE_URL (or DATABASE_URL) set, creates a fresh database on
 * that server, migrates it, hands its URL to the tests and drops it after.
 * Without, each test file opens its own in-memory PGlite.
 */
export default async function setup(project: TestProject) {
  const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || "";
  if (!serverUrl) {
    project.provide("databaseUrl", "");
    console.log("[fleet tests] database: embedded PGlite (in memory, one per file)");
    return;
  }
  const name = `fleet_test_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), dataDir: "" });
  await runMigrations(handle);
  await handle.close();
  project.provide("databaseUrl", url.toString());
  console.log(`[fleet tests] database: PostgreSQL ${url.host}/${name}`);

  return async () => {
    const drop = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await drop.unsafe(`drop database if exists ${name} with (force)`);
    await drop.end();
  };
}
