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
}

export interface MetricSample {
  type: string;
  /** Unix seconds. */
  timestamp: number;
  values: Record<string, number>;
  labels: Labels;
}

export type NodeStatus = "online" | "offline";
