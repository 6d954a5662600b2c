/**
 * The distribution rule: every primary key and unique constraint (and unique
 * index) of the migrated schema includes node_id, so the tables can be
 * distributed by node (Citus: node_id as the distribution column, which every
 * unique key must contain). Read from a database migrated with drizzle/, not
 * from the schema files, so hand-written SQL in a migration is checked too.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DatabaseHandle } from "../../src/manager/db/client.js";
import { rowsOf } from "../../src/manager/db/queries/rows.js";
import { openOwnDatabase } from "../helpers/manager.js";

/** Tables exempt from the rule, each with the reason. */
const ALLOWED: Record<string, string> = {
  leader_leases:
    "cluster-wide coordination (one row per background job, no node in it); under Citus a reference table or local to the coordinator, never distributed",
  fleet_rollup_buckets:
    "fleet-wide QueryFleetMetrics answers per bucket (across every node, none in the key); small, written by the leader, local to the coordinator under Citus",
  fleet_rollup_coverage:
    "the range fleet_rollup_buckets covers per series (no node in it); local to the coordinator under Citus",
};

interface UniqueKey {
  table: string;
  name: string;
  kind: string;
  columns: string[];
}

let handle: DatabaseHandle;
let close: () => Promise<void>;

beforeAll(async () => {
  // A database of its own: other files rename and create tables in the shared one.
  ({ handle, close } = await openOwnDatabase());
});

afterAll(async () => {
  await close?.();
});

async function uniqueKeys(): Promise<UniqueKey[]> {
  const result = await handle.db.execute(sql`
    select c.relname as "table",
           coalesce(con.conname, ic.relname) as name,
           case when i.indisprimary then 'primary key'
                when con.conname is not null then 'unique constraint'
                else 'unique index' end as kind,
           coalesce((select jsonb_agg(a.attname order by k.ord)
                       from unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
                       join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum),
                    '[]'::jsonb) as columns
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_class ic on ic.oid = i.indexrelid
      left join pg_constraint con on con.conindid = i.indexrelid and con.contype in ('p', 'u')
     where i.indisunique
       and c.relnamespace = to_regnamespace(current_schema())::oid
     order by 1, 2`);
  return rowsOf<{ table: string; name: string; kind: string; columns: string[] | string }>(
    result,
  ).map((r) => ({
    ...r,
    columns: typeof r.columns === "string" ? (JSON.parse(r.columns) as string[]) : r.columns,
  }));
}

describe("distribution rule: every primary key and unique constraint includes node_id", () => {
  it("holds for every table of the migrated schema (except the documented allow-list)", async () => {
    const keys = await uniqueKeys();
    // Not vacuous: the catalog query sees the tables the rule is about.
    const tables = new Set(keys.map((k) => k.table));
    for (const t of ["nodes", "node_events", "node_usage", "metrics", "leader_leases"])
      expect(tables, `no unique key found for table ${t}`).toContain(t);

    const violations = keys
      .filter((k) => !(k.table in ALLOWED) && !k.columns.includes("node_id"))
      .map(
        (k) =>
          `table ${k.table}: ${k.kind} ${k.name} (${k.columns.join(", ") || "an expression"}) does not include node_id`,
      );
    expect(violations, violations.join("\n")).toEqual([]);
  });

  it("allows only tables that exist and really lack node_id in a key", async () => {
    const keys = await uniqueKeys();
    for (const table of Object.keys(ALLOWED)) {
      const own = keys.filter((k) => k.table === table);
      expect(own.length, `allow-listed table ${table} has no unique key`).toBeGreaterThan(0);
      expect(
        own.some((k) => !k.columns.includes("node_id")),
        `allow-listed table ${table} already follows the rule: remove it from ALLOWED`,
      ).toBe(true);
    }
  });

  it("names the table and the constraint when a key breaks the rule", async () => {
    await handle.db.execute(
      sql`create table rule_probe (node_id text, k text, constraint rule_probe_k_key unique (k))`,
    );
    try {
      const bad = (await uniqueKeys()).filter(
        (k) => k.table === "rule_probe" && !k.columns.includes("node_id"),
      );
      expect(bad).toEqual([
        {
          table: "rule_probe",
          name: "rule_probe_k_key",
          kind: "unique constraint",
          columns: ["k"],
        },
      ]);
    } finally {
      await handle.db.execute(sql`drop table rule_probe`);
    }
  });
});
