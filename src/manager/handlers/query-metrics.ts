import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  QueryMetricsRequest,
  QueryMetricsResponseSchema,
} from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetQueryService } from "../services/fleet-query.js";

/** QueryMetrics: one values key over a range, per label set, downsampled when step_seconds is set. */
export function createQueryMetricsHandler(fleet: FleetQueryService) {
  return async (
    req: QueryMetricsRequest,
  ): Promise<MessageInitShape<typeof QueryMetricsResponseSchema>> => {
    const result = await fleet.queryMetrics({
      nodeId: req.nodeId,
      type: req.type,
      name: req.name,
      labels: { ...req.labels },
      start: Number(req.start),
      end: Number(req.end),
      stepSeconds: req.stepSeconds,
    });
    return {
      stepSeconds: result.stepSeconds,
      nodeTypes: result.nodeTypes,
      series: result.series.map((s) => ({
        labels: s.labels,
        points: s.points.map((p) => ({ timestamp: BigInt(Math.round(p.t)), value: p.v })),
      })),
    };
  };
}
