import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  QueryFleetMetricsRequest,
  QueryFleetMetricsResponseSchema,
} from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetHistoryService } from "../services/fleet-history.js";
import { metricWindowOf, pointsOf } from "./metric-window.js";

/** QueryFleetMetrics: aggregates across the nodes a selector matches, per step. */
export function createQueryFleetMetricsHandler(history: FleetHistoryService) {
  return async (
    req: QueryFleetMetricsRequest,
  ): Promise<MessageInitShape<typeof QueryFleetMetricsResponseSchema>> => {
    const result = await history.queryFleetMetrics({
      selector: req.selector,
      status: req.status,
      ...metricWindowOf(req),
      aggregates: req.aggregates,
    });
    return {
      stepSeconds: result.stepSeconds,
      series: result.series.map((s) => ({
        aggregate: s.aggregate,
        points: pointsOf(s.points),
      })),
    };
  };
}
