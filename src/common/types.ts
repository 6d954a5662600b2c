/** Domain types shared by manager and daemon; proto messages are translated to these at the edges. */

export type Labels = Record<string, string>;

/** What a daemon says about its node: registered by it, served back as part of a Node. */
export interface NodeFacts {
  nodeId: string;
  hostname: string;
  ip: string;
  os: string;
  arch: string;
  labels: Labels;
  daemonVersion: string;
  agentVersion: string;
}

export interface NodeRegistration extends NodeFacts {
  /** The daemon's configured heartbeat interval; 0 or unset = not said (the existing Go daemons). */
  heartbeatIntervalSeconds?: number;
  /** Forget the node soon after it goes offline (fleet-daemon --ephemeral). */
  ephemeral?: boolean;
}

export interface MetricSample {
  type: string;
  /** Unix seconds. */
  timestamp: number;
  values: Record<string, number>;
  labels: Labels;
}

export type NodeStatus = "online" | "offline";

/**
 * One values key of one metric type over a time window: what every metrics
 * query (one node's QueryMetrics, the fleet's QueryFleetMetrics) selects.
 * Each query says how it reads start/end (defaults, inclusive or not).
 */
export interface MetricWindow {
  type: string;
  /** A key of `values`. */
  name: string;
  /** Series must contain all of these labels. */
  labels: Labels;
  /** Unix seconds. */
  start: number;
  /** Unix seconds. */
  end: number;
  /** Bucket width in seconds; 0 means raw points. */
  stepSeconds: number;
}

/** A node's newest usage; each value null until the daemon reported it. */
export interface NodeUsage {
  cpuPercent: number | null;
  memoryPercent: number | null;
  /** The fullest mount. */
  diskPercent: number | null;
  /** Summed over the node's interfaces other than loopback. */
  networkRxBytesPerSecond: number | null;
  networkTxBytesPerSecond: number | null;
  /** The newest sample these values come from; null before any. */
  sampledAt: Date | null;
}

/** A registered node as the manager serves it (the store's bookkeeping columns left out). */
export interface Node extends NodeFacts {
  status: NodeStatus;
  registeredAt: Date;
  /** null until the first heartbeat or registration was written. */
  lastSeenAt: Date | null;
  statusChangedAt: Date;
  /** Daemon clock minus manager clock at the last heartbeat, in seconds. */
  clockSkewSeconds: number;
  /** Changes status too often (with hysteresis); status stays online/offline. */
  flapping: boolean;
  /** The interval the daemon is configured for; 0 = not said (the existing Go daemons). */
  requestedIntervalSeconds: number;
  /** Gap between the node's last two heartbeats as flushed; 0 = not yet seen. */
  observedIntervalSeconds: number;
  ephemeral: boolean;
  /** notAfter of the client certificate the node last connected with (mTLS). */
  certExpiresAt: Date | null;
  /** From then on the node is flagged as holding an expiring certificate. */
  certWarnAt: Date | null;
  /** Two daemons were last seen serving this node_id at once, and until when that is shown. */
  identityConflictAt: Date | null;
  identityConflictUntil: Date | null;
  identityConflictPeers: string;
}

/** A node with its newest usage (null when it has no usage row yet). */
export type NodeWithUsage = Node & { usage: NodeUsage | null };

/** One registration or status transition of a node, with its reason. */
export interface NodeEvent {
  /** Increasing across the fleet: a resume point for watchers. */
  id: number;
  nodeId: string;
  kind: string;
  reason: string;
  time: Date;
}

/** The newest sample of one series (node, type, label set). */
export interface LatestMetric {
  nodeId: string;
  type: string;
  labels: Labels;
  /** Unix seconds. */
  ts: number;
  values: Record<string, number>;
}
