import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetFleetSummaryResponseSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetQueryService } from "../services/fleet-query.js";

const counts = (m: Record<string, number>): Record<string, bigint> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, BigInt(v)]));

/** GetFleetSummary: node counts by status, OS, architecture and daemon version. */
export function createGetFleetSummaryHandler(fleet: FleetQueryService) {
  return async (): Promise<MessageInitShape<typeof GetFleetSummaryResponseSchema>> => {
    const s = await fleet.summary();
    return {
      total: BigInt(s.total),
      online: BigInt(s.byStatus.online ?? 0),
      offline: BigInt(s.byStatus.offline ?? 0),
      byStatus: counts(s.byStatus),
      byOs: counts(s.byOs),
      byArch: counts(s.byArch),
      byVersion: counts(s.byVersion),
      lastSeenAt: BigInt(s.lastSeenAt),
    };
  };
}
