import { sql } from "drizzle-orm";
import type { Database } from "../client.js";
import { rowsOf } from "./rows.js";

/**
 * Takes or renews the lease `name` for `holder` for `ttlMs`, in one statement:
 * granted when nobody holds it, when `holder` already does, or when the
 * current holder let it expire. Times are the database's (`now()`), so
 * replicas with skewed clocks still agree on who holds it. True when granted.
 */
export async function claimLease(
  db: Database,
  name: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const result = await db.execute(sql`
    insert into leader_leases as l (name, holder, acquired_at, expires_at)
    values (${name}, ${holder}, now(), now() + ${ttlMs} * interval '1 millisecond')
    on conflict (name) do update
       set holder = excluded.holder,
           expires_at = excluded.expires_at,
           acquired_at = case when l.holder = excluded.holder then l.acquired_at
                              else excluded.acquired_at end
     where l.holder = excluded.holder or l.expires_at < now()
    returning l.holder`);
  return rowsOf<{ holder: string }>(result).length > 0;
}

/** Gives the lease up (graceful shutdown), so another replica takes it at once. */
export async function releaseLease(db: Database, name: string, holder: string): Promise<void> {
  await db.execute(sql`delete from leader_leases where name = ${name} and holder = ${holder}`);
}

/** Who holds `name` now (undefined when nobody, or the lease expired). */
export async function leaseHolder(db: Database, name: string): Promise<string | undefined> {
  const result = await db.execute(sql`
    select holder from leader_leases where name = ${name} and expires_at >= now()`);
  return rowsOf<{ holder: string }>(result)[0]?.holder;
}
