import { index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One row per MetricData. Identity is (node_id, type, labels, ts) — a retried
 * batch inserts nothing new. node_id leads the key so the table can be
 * distributed by node (Citus). The SQL migration partitions it by day on ts
 * (drizzle-kit does not model partitioning). A BRIN index on ts (a few pages
 * per partition, cheap to keep while rows arrive in time order) lets a query
 * over every node read only a short time window's pages, not whole partitions.
 */
export const metrics = pgTable(
  "metrics",
  {
    nodeId: text("node_id").notNull(),
    type: text("type").notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
    ts: timestamp("ts", { withTimezone: true }).notNull(),
    values: jsonb("values").$type<Record<string, number>>().notNull(),
  },
  (t) => [
    primaryKey({ name: "metrics_series_ts_pk", columns: [t.nodeId, t.type, t.labels, t.ts] }),
    // autosummarize: a filled range is summarized by autovacuum soon after, not
    // at the next VACUUM (an unsummarized range is read whole by every scan).
    index("metrics_ts_brin").using("brin", t.ts).with({ autosummarize: true }),
  ],
);
