import type { MetricSample } from "../../../common/types.js";
import type { Database } from "../client.js";
import { storeErrorCode } from "../store-errors.js";
import { LATE_AFTER_SECONDS } from "./fleet-rollup.js";
import { digestUsage, mergeUsage, type UsageDigest } from "./node-usage.js";
import { queryPrepared } from "./prepared.js";

/** One node's samples inside a group-commit batch. */
export interface NodeSamples {
  nodeId: string;
  samples: readonly MetricSample[];
}

/**
 * Inserts the samples of many nodes in one statement; rows already stored
 * (same node, type, labels, timestamp) are skipped, so a retried batch adds
 * nothing. Rows of nodes that no longer exist are not stored: those node ids
 * come back in `missingNodes` (as seen by the same snapshot), so their
 * requests can be answered NOT_FOUND. `stored` counts the new rows.
 *
 * The same statement rewrites each node's node_usage row from the newest usage
 * in the batch (unless the row already holds newer data, as when a spool
 * replays old samples), so ListNodes reads usage without touching metrics.
 *
 * One JSON parameter through jsonb_to_recordset: array bind parameters differ
 * between postgres.js and PGlite, and it measured fastest of multi-row VALUES,
 * unnest and COPY (bench/ingest-statements.ts). The text is fixed, so it runs as
 * a prepared statement (queryPrepared; bench/ingest-batch-explain.ts).
 */
export async function insertMetricBatch(
  db: Database,
  batch: readonly NodeSamples[],
): Promise<{ stored: number; missingNodes: string[] }> {
  const rows: {
    n: string;
    t: string;
    l: Record<string, string>;
    s: number;
    v: Record<string, number>;
  }[] = [];
  // Every batch inserts nodes in one order (a request's rows keep theirs, and a
  // retried request repeats it), so two batches holding the same rows, such as
  // a retry reaching two replicas at once, wait on each other instead of
  // deadlocking. Sorting the requests, not the rows, keeps this cheap.
  const ordered = [...batch].sort((a, b) => cmp(a.nodeId, b.nodeId));
  const usage: UsageDigest[] = [];
  // Oldest late timestamp per type: rows the whole-fleet rollup may have rolled past.
  const lateBefore = Date.now() / 1000 - LATE_AFTER_SECONDS;
  const late = new Map<string, number>();
  for (const { nodeId, samples } of ordered) {
    for (const s of samples) {
      rows.push({ n: nodeId, t: s.type, l: s.labels, s: s.timestamp, v: s.values });
      if (s.timestamp < lateBefore && s.timestamp < (late.get(s.type) ?? Infinity))
        late.set(s.type, s.timestamp);
    }
    const u = digestUsage(nodeId, samples);
    const prev = usage[usage.length - 1];
    // Two requests of one node in a batch (they sort next to each other): merge.
    if (u && prev?.n === nodeId) usage[usage.length - 1] = mergeUsage(prev, u);
    else if (u) usage.push(u);
  }
  if (rows.length === 0) return { stored: 0, missingNodes: [] };
  const params = [
    JSON.stringify(rows),
    JSON.stringify(usage),
    JSON.stringify([...new Set(batch.map((b) => b.nodeId))]),
    JSON.stringify([...late].map(([t, s]) => ({ t, s }))),
  ];
  type Result = { n: number; missing: string[] | string };
  let row: Result | undefined;
  try {
    [row] = await queryPrepared<Result>(db, INSERT_BATCH_NEW, params);
  } catch (err) {
    // A row already stored (a retry): the whole statement undid itself; skip those rows.
    if (storeErrorCode(err) !== "23505") throw err;
    [row] = await queryPrepared<Result>(db, INSERT_BATCH_SKIPPING_STORED, params);
  }
  // postgres.js parses jsonb; PGlite may hand it over as text.
  const missing = typeof row?.missing === "string" ? JSON.parse(row.missing) : row?.missing;
  return { stored: Number(row?.n ?? 0), missingNodes: missing ?? [] };
}

/**
 * $1 rows, $2 usage digests, $3 the batch's distinct node ids, $4 late-row
 * markers for the fleet rollup (usually none); all JSON text.
 * `${CONFLICT}` is either nothing (a plain insert: a stored row fails the
 * statement with 23505) or ON CONFLICT DO NOTHING, which makes PostgreSQL probe
 * the key before each row and log a confirmation after it. A batch of new rows
 * measured 0.56–0.95× the time of ON CONFLICT inserting it plain, a batch with
 * stored rows ~1.3–1.9× (it runs twice) (bench/ingest-batch-explain.ts). New
 * rows are the common case, so the plain insert goes first.
 */
const insertBatch = (CONFLICT: string) => `
  -- Which of the batch's nodes exist, looked up once per node, not once per row:
  -- under a fleet's heartbeat updates each lookup of a nodes row costs far more
  -- than when the table is quiet (measured 0.3 ms against 0.005 ms, at 80,000 nodes).
  with present as materialized (
    select nodes.node_id from nodes
     where nodes.node_id in (select jsonb_array_elements_text($3::text::jsonb))),
  ins as (
    insert into metrics (node_id, type, labels, ts, values)
    select u.n, u.t, u.l, to_timestamp(u.s), u.v
      from jsonb_to_recordset($1::text::jsonb)
        as u(n text, t text, l jsonb, s bigint, v jsonb)
     -- A node deleted since the known-node cache vouched for it gets no orphan rows.
     where u.n in (select p.node_id from present p)
    ${CONFLICT}
    returning 1),
  usage as (
    update node_usage as nu
       set cpu_percent = coalesce(u.c, nu.cpu_percent),
           memory_percent = coalesce(u.m, nu.memory_percent),
           disk_percent = coalesce(u.d, nu.disk_percent),
           network_rx_bytes_per_second = coalesce(u.rx, nu.network_rx_bytes_per_second),
           network_tx_bytes_per_second = coalesce(u.tx, nu.network_tx_bytes_per_second),
           sampled_at = to_timestamp(u.at)
      from jsonb_to_recordset($2::text::jsonb)
        as u(n text, at bigint, c float8, m float8, d float8, rx float8, tx float8)
     where nu.node_id = u.n
       and (nu.sampled_at is null or nu.sampled_at <= to_timestamp(u.at))),
  late as (
    insert into fleet_rollup_late (type, from_t)
    select x.t, x.s from jsonb_to_recordset($4::text::jsonb) as x(t text, s float8))
  select (select count(*)::int from ins) as n,
         (select coalesce(jsonb_agg(id), '[]'::jsonb)
            from jsonb_array_elements_text($3::text::jsonb) as id
           where not exists (select 1 from present p where p.node_id = id)) as missing`;
const INSERT_BATCH_NEW = insertBatch("");
const INSERT_BATCH_SKIPPING_STORED = insertBatch(
  "on conflict on constraint metrics_series_ts_pk do nothing",
);

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
