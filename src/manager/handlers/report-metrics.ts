import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ReportMetricsRequest,
  ReportMetricsResponseSchema,
} from "../../../gen/manager/manager_pb.js";
import type { MetricSample } from "../../common/types.js";
import type { MetricsService } from "../services/metrics.js";

/**
 * ReportMetrics: proto MetricData → MetricSample; OK only after commit.
 * Partial success: `accepted`/`rejected` and the first reasons in `message`.
 */
export function createReportMetricsHandler(metrics: MetricsService) {
  return async (
    req: ReportMetricsRequest,
  ): Promise<MessageInitShape<typeof ReportMetricsResponseSchema>> => {
    // The decoded maps are plain objects nothing else holds or changes (own
    // keys only, as protobuf-es sets them): taken as they are, not copied.
    const samples: MetricSample[] = req.metrics.map((m) => ({
      type: m.type,
      timestamp: Number(m.timestamp),
      values: m.values,
      labels: m.labels,
    }));
    const result = await metrics.report(req.nodeId, samples);
    const message =
      result.rejected > 0
        ? `rejected ${result.rejected} of ${samples.length} metrics: ${result.reasons.join("; ")}${
            result.rejected > result.reasons.length ? "; …" : ""
          }`
        : `stored ${result.accepted} metrics`;
    return { success: true, message, accepted: result.accepted, rejected: result.rejected };
  };
}
