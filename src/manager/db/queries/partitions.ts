import { sql } from "drizzle-orm";
import type { Database } from "../client.js";
import { rowsOf } from "./rows.js";

const DAY_MS = 86_400_000;
const NAME = /^metrics_p(\d{4})(\d{2})(\d{2})$/;

/** The UTC day starting at or before `t`. */
export const dayStart = (t: Date) => new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);

/** `metrics_pYYYYMMDD` for the UTC day starting at `day`. */
export function partitionName(day: Date): string {
  return `metrics_p${day.toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** The daily partitions of `metrics` and their first day, oldest first. */
export async function listDailyPartitions(db: Database): Promise<{ name: string; day: Date }[]> {
  const result = await db.execute(sql`
    select c.relname as name from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent
     where p.relname = 'metrics' and p.relnamespace = to_regnamespace(current_schema())::oid`);
  const out: { name: string; day: Date }[] = [];
  for (const { name } of rowsOf<{ name: string }>(result)) {
    const m = NAME.exec(name);
    if (m) out.push({ name, day: new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`) });
  }
  return out.sort((a, b) => a.day.getTime() - b.day.getTime());
}

/**
 * Creates the partition for one UTC day. When the default partition already
 * holds rows of that day (written before the partition existed), they are
 * moved into it in the same transaction, since PostgreSQL refuses to create a
 * partition that would hide rows in the default one.
 */
export async function createDailyPartition(db: Database, day: Date): Promise<void> {
  const name = partitionName(day);
  const from = day.toISOString();
  const to = new Date(day.getTime() + DAY_MS).toISOString();
  // Identifiers cannot be bind parameters; `name` is built from a date above.
  const table = sql.raw(`"${name}"`);
  const stragglers = await db.execute(sql`
    select exists (select 1 from metrics_default
                    where ts >= ${from}::timestamptz and ts < ${to}::timestamptz) as any`);
  if (!rowsOf<{ any: boolean }>(stragglers)[0]?.any) {
    await db.execute(sql`
      create table if not exists ${table} partition of metrics
        for values from (${sql.raw(`'${from}'`)}) to (${sql.raw(`'${to}'`)})`);
    return;
  }
  await db.transaction(async (tx) => {
    await tx.execute(
      sql`create table ${table} (like metrics including defaults including constraints)`,
    );
    // One statement, one snapshot: exactly the rows deleted are copied. A row
    // ingested meanwhile stays in the default partition, and ATTACH then fails
    // on it, rolling back; the next maintenance run tries again. Nothing is lost.
    await tx.execute(sql`
      with moved as (
        delete from metrics_default
         where ts >= ${from}::timestamptz and ts < ${to}::timestamptz
        returning *)
      insert into ${table} select * from moved`);
    await tx.execute(sql`
      alter table metrics attach partition ${table}
        for values from (${sql.raw(`'${from}'`)}) to (${sql.raw(`'${to}'`)})`);
  });
}

/** Drops a daily partition (retention: whole days at once, never row by row). */
export async function dropPartition(db: Database, name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`not a daily metrics partition: ${name}`);
  await db.execute(sql.raw(`drop table if exists "${name}"`));
}
