import {
  doublePrecision,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/**
 * QueryFleetMetrics answers over the whole fleet, precomputed per closed
 * bucket by the leader (services/fleet-rollup.ts): one row per (type, name,
 * step, bucket) with the same aggregates the exact query gives for that
 * bucket (each node's bucket average first, then across nodes; labels {}, no
 * selector, no status). Fleet-wide by nature, so no node_id: exempt from the
 * distribution rule (a coordinator-local table under Citus).
 */
export const fleetRollupBuckets = pgTable(
  "fleet_rollup_buckets",
  {
    type: text("type").notNull(),
    name: text("name").notNull(),
    stepSeconds: integer("step_seconds").notNull(),
    /** Bucket start, Unix seconds (a multiple of step_seconds). */
    t: doublePrecision("t").notNull(),
    avg: doublePrecision("avg").notNull(),
    min: doublePrecision("min").notNull(),
    max: doublePrecision("max").notNull(),
    p50: doublePrecision("p50").notNull(),
    p90: doublePrecision("p90").notNull(),
    p99: doublePrecision("p99").notNull(),
    count: doublePrecision("count").notNull(),
  },
  (r) => [
    primaryKey({
      name: "fleet_rollup_buckets_pk",
      columns: [r.type, r.name, r.stepSeconds, r.t],
    }),
  ],
);

/**
 * Rows stored, or deleted, for buckets the rollup may already hold: a daemon's
 * spool replayed after an outage, a clock behind, a DeleteNode. One row per
 * metric type and statement, the oldest timestamp touched (Unix seconds);
 * written in the same statement as the rows, so a committed row always has its
 * marker. The rollup's next run moves them into the coverage's dirty_from and
 * recomputes from there. Append-only, no key: writers never wait on each other.
 */
export const fleetRollupLate = pgTable("fleet_rollup_late", {
  type: text("type").notNull(),
  fromT: doublePrecision("from_t").notNull(),
});

/**
 * What the rollup covers per (type, name, step): every bucket starting in
 * [from_t, to_t) is in fleet_rollup_buckets if it had data. Buckets outside
 * are computed from metrics at query time.
 */
export const fleetRollupCoverage = pgTable(
  "fleet_rollup_coverage",
  {
    type: text("type").notNull(),
    name: text("name").notNull(),
    stepSeconds: integer("step_seconds").notNull(),
    fromT: doublePrecision("from_t").notNull(),
    toT: doublePrecision("to_t").notNull(),
    /** Rolled buckets from here on changed since they were rolled (late rows, a deletion). */
    dirtyFrom: doublePrecision("dirty_from"),
    rolledAt: timestamp("rolled_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (r) => [
    primaryKey({
      name: "fleet_rollup_coverage_pk",
      columns: [r.type, r.name, r.stepSeconds],
    }),
  ],
);
