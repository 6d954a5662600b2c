import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  QueryMetricsRequest,
  QueryMetricsResponseSchema,
} from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetQueryService } from "../services/fleet-query.js";
import { metricWindowOf, pointsOf } from "./metric-window.js";

/** QueryMetrics: one values key over a range, per label set, downsampled when step_seconds is set. */
export function createQueryMetricsHandler(fleet: FleetQueryService) {
  return async (
    req: QueryMetricsRequest,
  ): Promise<MessageInitShape<typeof QueryMetricsResponseSchema>> => {
    const result = await fleet.queryMetrics({ nodeId: req.nodeId, ...metricWindowOf(req) });
    return {
      stepSeconds: result.stepSeconds,
      nodeTypes: result.nodeTypes,
      series: result.series.map((s) => ({
        labels: s.labels,
        points: pointsOf(s.points),
      })),
    };
  };
}
