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
