import type { QueryMetricsRequest } from "../../../gen/fleet/v1/fleet_pb.js";
import type { MetricWindow } from "../../common/types.js";

/** The window fields QueryMetrics and QueryFleetMetrics share (same names in both protos). */
type WireWindow = Pick<
  QueryMetricsRequest,
  "type" | "name" | "labels" | "start" | "end" | "stepSeconds"
>;

/** The wire window as the domain reads it. */
export function metricWindowOf(req: WireWindow): MetricWindow {
  return {
    type: req.type,
    name: req.name,
    labels: { ...req.labels },
    start: Number(req.start),
    end: Number(req.end),
    stepSeconds: req.stepSeconds,
  };
}

/** Wire points: whole Unix seconds as int64. */
export function pointsOf(points: readonly { t: number; v: number }[]) {
  return points.map((p) => ({ timestamp: BigInt(Math.round(p.t)), value: p.v }));
}
