import type { MetricWindow } from "../../common/types.js";

/** The window fields QueryMetrics and QueryFleetMetrics share, as the domain reads them. */
export function metricWindowOf(req: {
  type: string;
  name: string;
  labels: { [key: string]: string };
  start: bigint;
  end: bigint;
  stepSeconds: number;
}): MetricWindow {
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
