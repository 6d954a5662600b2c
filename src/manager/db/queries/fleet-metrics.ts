import { sql } from "drizzle-orm";
import type { SelectorClause } from "../../../common/selector.js";
import type { MetricWindow } from "../../../common/types.js";
import type { Database } from "../client.js";
import { nodeFilter } from "./node-list.js";
import { rowsOf } from "./rows.js";

export interface FleetBucket {
  /** Bucket start, Unix seconds. */
  t: number;
  avg: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
  /** Nodes with data in the bucket. */
  count: number;
}

/** The window resolved by the service, across the nodes the selector and status match. */
export interface FleetMetricsQuery extends MetricWindow {
  status: string;
  selector: readonly SelectorClause[];
}

/**
 * One row per bucket across the matching nodes: each node's points (all its
 * series matching `labels`) are averaged per bucket first, then aggregated
 * across nodes, so a node reporting twice as often does not weigh twice.
 * Percentiles interpolate (percentile_cont). Buckets without data are absent.
 * Computed from metrics, every row of the window (fleet-rollup.ts reads the
 * precomputed buckets where it can).
 */
export async function exactFleetBuckets(
  db: Database,
  q: FleetMetricsQuery,
): Promise<FleetBucket[]> {
  const where = nodeFilter(q);
  const labels = Object.keys(q.labels).length
    ? sql`and m.labels @> ${JSON.stringify(q.labels)}::jsonb`
    : sql``;
  const result = await db.execute(sql`
    with per_node as (
      select m.node_id,
             -- float8, not extract's numeric: bucketing every row in numeric took half the query.
             floor(extract(epoch from m.ts)::float8 / ${q.stepSeconds}) * ${q.stepSeconds} as t,
             avg((m.values ->> ${q.name})::float8) as v
        from metrics m
        join nodes on nodes.node_id = m.node_id
       where m.type = ${q.type}
         and m.ts >= to_timestamp(${q.start}) and m.ts < to_timestamp(${q.end})
         and jsonb_typeof(m.values -> ${q.name}) = 'number' ${labels}
         ${where ? sql`and ${where}` : sql``}
       group by m.node_id, 2)
    select t::float8 as t, avg(v)::float8 as avg, min(v)::float8 as min, max(v)::float8 as max,
           percentile_cont(0.5) within group (order by v)::float8 as p50,
           percentile_cont(0.9) within group (order by v)::float8 as p90,
           percentile_cont(0.99) within group (order by v)::float8 as p99,
           count(*)::float8 as count
      from per_node
     group by t
     order by t`);
  return rowsOf<Record<keyof FleetBucket, number | string>>(result).map((r) => ({
    t: Number(r.t),
    avg: Number(r.avg),
    min: Number(r.min),
    max: Number(r.max),
    p50: Number(r.p50),
    p90: Number(r.p90),
    p99: Number(r.p99),
    count: Number(r.count),
  }));
}
