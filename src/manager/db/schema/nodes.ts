import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/** One row per registered node. Liveness lives here (not in a process) so replicas agree. */
export const nodes = pgTable(
  "nodes",
  {
    nodeId: text("node_id").primaryKey(),
    hostname: text("hostname").notNull().default(""),
    ip: text("ip").notNull().default(""),
    os: text("os").notNull().default(""),
    arch: text("arch").notNull().default(""),
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
    daemonVersion: text("daemon_version").notNull().default(""),
    agentVersion: text("agent_version").notNull().default(""),
    status: text("status").notNull().default("online"),
    registeredAt: timestamp("registered_at", { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true }).notNull().defaultNow(),
    /** Daemon clock minus manager clock at the last heartbeat, in seconds. */
    clockSkewSeconds: integer("clock_skew_seconds").notNull().default(0),
    /** Set when the node changes status too often (with hysteresis); status stays online/offline. */
    flapping: boolean("flapping").notNull().default(false),
    /** The interval the daemon is configured for (RegisterNode); 0 = not said (the existing Go daemons). */
    requestedIntervalSeconds: integer("requested_interval_seconds").notNull().default(0),
    /** Gap between the node's last two heartbeats as flushed (its real cadence); 0 = not yet seen. */
    observedIntervalSeconds: integer("observed_interval_seconds").notNull().default(0),
    /** Registered with --ephemeral: deleted soon after it goes offline. */
    ephemeral: boolean("ephemeral").notNull().default(false),
    /** notAfter of the client certificate the node last connected with (mTLS), as the manager saw it. */
    certExpiresAt: timestamp("cert_expires_at", { withTimezone: true }),
    /** cert_expires_at minus tls.expiry_window: from then on the node is flagged. */
    certWarnAt: timestamp("cert_warn_at", { withTimezone: true }),
    /** Address and certificate fingerprint of the last heartbeat written, so replicas see each other's peers. */
    lastPeer: text("last_peer").notNull().default(""),
    /** Two daemons were last seen serving this node_id at once (see services/identity-watch.ts). */
    identityConflictAt: timestamp("identity_conflict_at", { withTimezone: true }),
    /** identity_conflict_at plus identity.conflict_hold: the flag clears after this. */
    identityConflictUntil: timestamp("identity_conflict_until", { withTimezone: true }),
    identityConflictPeers: text("identity_conflict_peers").notNull().default(""),
  },
  (t) => [
    index("nodes_status_idx").on(t.status, t.nodeId),
    index("nodes_labels_idx").using("gin", t.labels),
  ],
);

/**
 * Registrations and status transitions, with their reason. The primary key
 * leads with node_id (the distribution rule, tests/unit/distribution-rule.test.ts);
 * it also serves ListNodeEvents for one node, keyset on id. id alone is still
 * unique (one sequence) and indexed for the fleet-wide keyset (WatchNodes, ListNodeEvents).
 */
export const nodeEvents = pgTable(
  "node_events",
  {
    id: bigserial("id", { mode: "number" }).notNull(),
    nodeId: text("node_id").notNull(),
    kind: text("kind").notNull(),
    reason: text("reason").notNull().default(""),
    time: timestamp("time", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    index("node_events_node_time_idx").on(t.nodeId, t.time),
    index("node_events_time_idx").on(t.time),
    primaryKey({ name: "node_events_node_id_pk", columns: [t.nodeId, t.id] }),
    index("node_events_id_idx").on(t.id),
  ],
);

/**
 * The newest usage of each node, one row per node (a trigger adds it with the
 * node), rewritten by the ingest statement that stores the metrics. A table of
 * its own so ingest never locks the nodes rows heartbeats update, and so these
 * indexes are not maintained on every heartbeat. The expression indexes serve
 * ListNodes order_by keyset pages; no data sorts as -1 (below every value).
 */
export const nodeUsage = pgTable(
  "node_usage",
  {
    nodeId: text("node_id")
      .primaryKey()
      .references(() => nodes.nodeId, { onDelete: "cascade" }),
    cpuPercent: doublePrecision("cpu_percent"),
    memoryPercent: doublePrecision("memory_percent"),
    /** The fullest mount. */
    diskPercent: doublePrecision("disk_percent"),
    /** Summed over the node's interfaces other than loopback. */
    networkRxBytesPerSecond: doublePrecision("network_rx_bytes_per_second"),
    networkTxBytesPerSecond: doublePrecision("network_tx_bytes_per_second"),
    /** The newest sample these values come from. */
    sampledAt: timestamp("sampled_at", { withTimezone: true }),
  },
  (t) => [
    index("node_usage_cpu_idx").on(sql`coalesce(${t.cpuPercent}, -1)`, t.nodeId),
    index("node_usage_memory_idx").on(sql`coalesce(${t.memoryPercent}, -1)`, t.nodeId),
    index("node_usage_disk_idx").on(sql`coalesce(${t.diskPercent}, -1)`, t.nodeId),
    index("node_usage_network_idx").on(
      sql`coalesce(${t.networkRxBytesPerSecond} + ${t.networkTxBytesPerSecond}, -1)`,
      t.nodeId,
    ),
  ],
);
