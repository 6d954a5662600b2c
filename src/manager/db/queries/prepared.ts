import type { Database } from "../client.js";

/** The part of a postgres.js client this module uses (db.$client on postgres.js). */
interface PostgresJsClient {
  unsafe(text: string, params: unknown[], opts: { prepare: boolean }): Promise<unknown[]>;
}

/** The part of a PGlite instance this module uses (db.$client on PGlite). */
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a fixed statement text ($1, $2, … parameters, all text) as a named
 * prepared statement on postgres.js. Drizzle's db.execute sends an unnamed
 * statement: Parse + Describe, a round trip for the parameter types, then Bind,
 * so the server parses and analyzes the text on every call. A hot statement
 * (the ingest batch) pays that per batch; prepared, once per connection.
 * PGlite runs in-process, where that round trip costs nothing: a plain query.
 */
export async function queryPrepared<T>(db: Database, text: string, params: string[]): Promise<T[]> {
  const client = (db as unknown as { $client: PostgresJsClient | PgliteClient }).$client;
  if ("unsafe" in client) return (await client.unsafe(text, params, { prepare: true })) as T[];
  return (await client.query(text, params)).rows as T[];
}
