import type { MetricSample, NodeRegistration } from "../common/types.js";
import type { Collector } from "./collectors/collector.js";
import type { ManagerClient } from "./transport/client.js";

export interface OnceReport {
  nodeId: string;
  registered: boolean;
  sent: MetricSample[];
  accepted: number;
  rejected: number;
  collectorErrors: { type: string; error: string }[];
}

/** `fleet-daemon --once`: register, heartbeat, collect one round, report it. Throws on RPC failure. */
export async function runOnce(
  client: ManagerClient,
  registration: NodeRegistration,
  collectors: readonly Collector[],
): Promise<OnceReport> {
  await client.registerNode(registration);
  await client.heartbeat({
    nodeId: registration.nodeId,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
  });
  const now = new Date();
  const collectorErrors: OnceReport["collectorErrors"] = [];
  const results = await Promise.allSettled(collectors.map((c) => c.collect(now)));
  const sent: MetricSample[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") sent.push(...r.value);
    else collectorErrors.push({ type: collectors[i]?.type ?? "?", error: String(r.reason) });
  });
  const res = await client.reportMetrics({
    nodeId: registration.nodeId,
    metrics: sent.map((s) => ({
      type: s.type,
      timestamp: BigInt(s.timestamp),
      values: s.values,
      labels: s.labels,
    })),
  });
  return {
    nodeId: registration.nodeId,
    registered: true,
    sent,
    accepted: res.accepted,
    rejected: res.rejected,
    collectorErrors,
  };
}
