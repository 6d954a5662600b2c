import { sql } from "drizzle-orm";
import type { MetricSample } from "../../../common/types.js";
import type { Database } from "../client.js";
import { rowsOf } from "./nodes.js";

/** One node's samples inside a group-commit batch. */
export interface NodeSamples {
  nodeId: string;
  samples: readonly MetricSample[];
}

/**
 * Inserts the samples of many nodes in one statement; rows already stored
 * (same node, type, labels, timestamp) are skipped, so a retried batch adds
 * nothing. Rows of nodes that no longer exist are skipped. Returns how many
 * rows were new.
 *
 * One JSON parameter through jsonb_to_recordset: array bind parameters differ
 * between postgres.js and PGlite, and it measured fastest of multi-row VALUES,
 * unnest and COPY (bench/ingest-statements.ts).
 */
export async function insertMetricBatch(
  db: Database,
  batch: readonly NodeSamples[],
): Promise<number> {
  const rows: {
    n: string;
    t: string;
    l: Record<string, string>;
    s: number;
    v: Record<string, number>;
  }[] = [];
  for (const { nodeId, samples } of batch) {
    for (const s of samples)
      rows.push({ n: nodeId, t: s.type, l: s.labels, s: s.timestamp, v: s.values });
  }
  if (rows.length === 0) return 0;
  // Every batch inserts in one key order, so two batches holding the same rows
  // (a retry reaching two replicas at once) wait on each other instead of deadlocking.
  const labelKey = (l: Record<string, string>) =>
    JSON.stringify(
      Object.keys(l)
        .sort()
        .map((k) => [k, l[k]]),
    );
  rows.sort(
    (a, b) => cmp(a.n, b.n) || cmp(a.t, b.t) || a.s - b.s || cmp(labelKey(a.l), labelKey(b.l)),
  );
  const result = await db.execute(sql`
    with ins as (
      insert into metrics (node_id, type, labels, ts, values)
      select u.n, u.t, u.l, to_timestamp(u.s), u.v
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as u(n text, t text, l jsonb, s bigint, v jsonb)
       -- A node deleted since the known-node cache vouched for it gets no orphan rows.
       where exists (select 1 from nodes where nodes.node_id = u.n)
      on conflict on constraint metrics_series_ts_pk do nothing
      returning 1)
    select count(*)::int as n from ins`);
  return Number(rowsOf<{ n: number }>(result)[0]?.n ?? 0);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Inserts one node's samples in one statement; returns how many rows were new. */
export async function insertMetrics(
  db: Database,
  nodeId: string,
  samples: readonly MetricSample[],
): Promise<number> {
  return insertMetricBatch(db, [{ nodeId, samples }]);
}
