import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
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

/** Registrations and status transitions, with their reason. */
export const nodeEvents = pgTable(
  "node_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    nodeId: text("node_id").notNull(),
    kind: text("kind").notNull(),
    reason: text("reason").notNull().default(""),
    time: timestamp("time", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    index("node_events_node_time_idx").on(t.nodeId, t.time),
    index("node_events_time_idx").on(t.time),
  ],
);
