/** Domain types shared by manager and daemon; proto messages are translated to these at the edges. */

export type Labels = Record<string, string>;

export interface NodeRegistration {
  nodeId: string;
  hostname: string;
  ip: string;
  os: string;
  arch: string;
  labels: Labels;
  daemonVersion: string;
  agentVersion: string;
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
export interface Node {
  nodeId: string;
  hostname: string;
  ip: string;
  os: string;
  arch: string;
  labels: Labels;
  daemonVersion: string;
  agentVersion: string;
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
