import { sql } from "drizzle-orm";
import type { Labels, MetricWindow } from "../../../common/types.js";
import type { Database } from "../client.js";
import { rowsOf } from "./rows.js";

/** One node's window, start inclusive and end exclusive (resolved by the service). */
export interface MetricRangeQuery extends MetricWindow {
  nodeId: string;
  /** Most points returned; the caller asks for one more to detect overflow. */
  limit: number;
}

export interface SeriesPoint {
  labels: Labels;
  /** Unix seconds (bucket start when downsampled). */
  t: number;
  v: number;
}

/**
 * One value of one metric type over a time range, ordered by label set then
 * time. With a step, the database averages each label set's points into
 * buckets aligned to multiples of the step since the epoch.
 */
export async function queryMetricRange(db: Database, q: MetricRangeQuery): Promise<SeriesPoint[]> {
  const filter = Object.keys(q.labels).length
    ? sql`and labels @> ${JSON.stringify(q.labels)}::jsonb`
    : sql``;
  // Only numbers: a values key holding anything else never breaks the cast.
  const where = sql`node_id = ${q.nodeId} and type = ${q.type}
      and ts >= to_timestamp(${q.start}) and ts < to_timestamp(${q.end})
      and jsonb_typeof(values -> ${q.name}) = 'number' ${filter}`;
  const result =
    q.stepSeconds > 0
      ? await db.execute(sql`
          select labels,
                 -- float8 arithmetic: extract() gives numeric, much slower per row.
                 (floor(extract(epoch from ts)::float8 / ${q.stepSeconds}) * ${q.stepSeconds})::float8 as t,
                 avg((values ->> ${q.name})::float8)::float8 as v
            from metrics
           where ${where}
           group by labels, 2
           order by labels, 2
           limit ${q.limit}`)
      : await db.execute(sql`
          select labels, extract(epoch from ts)::float8 as t, (values ->> ${q.name})::float8 as v
            from metrics
           where ${where}
           order by labels, ts
           limit ${q.limit}`);
  return rowsOf<{ labels: Labels; t: number | string; v: number | string }>(result).map((r) => ({
    labels: r.labels,
    t: Number(r.t),
    v: Number(r.v),
  }));
}

export interface LatestMetricRow {
  nodeId: string;
  type: string;
  labels: Labels;
  /** Unix seconds. */
  ts: number;
  values: Record<string, number>;
}

/**
 * The newest row of every series (node, type, label set) reported within the
 * window. The window bounds the scan to recent daily partitions.
 */
export async function latestMetricRows(
  db: Database,
  windowSeconds: number,
): Promise<LatestMetricRow[]> {
  const result = await db.execute(sql`
    select distinct on (node_id, type, labels)
           node_id, type, labels, extract(epoch from ts)::float8 as ts, values
      from metrics
     where ts >= now() - make_interval(secs => ${windowSeconds})
     order by node_id, type, labels, ts desc`);
  return rowsOf<{
    node_id: string;
    type: string;
    labels: Labels;
    ts: number | string;
    values: Record<string, number>;
  }>(result).map((r) => ({
    nodeId: r.node_id,
    type: r.type,
    labels: r.labels,
    ts: Number(r.ts),
    values: r.values,
  }));
}

/**
 * The metric types a node has rows of, in order. A skip scan over the primary
 * key (node_id, type, …): one index probe per type, however many rows.
 */
export async function nodeMetricTypes(db: Database, nodeId: string): Promise<string[]> {
  const result = await db.execute(sql`
    with recursive t(type) as (
      (select type from metrics where node_id = ${nodeId} order by type limit 1)
      union all
      select (select m.type from metrics m
               where m.node_id = ${nodeId} and m.type > t.type order by m.type limit 1)
        from t where t.type is not null)
    select type from t where type is not null`);
  return rowsOf<{ type: string }>(result).map((r) => r.type);
}
