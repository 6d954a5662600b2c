import type { MessageInitShape } from "@bufbuild/protobuf";
import type { NodeSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeRow } from "../db/queries/nodes.js";
import type { PacingSource } from "./register-node.js";

const unix = (d: Date | null) => BigInt(d ? Math.floor(d.getTime() / 1000) : 0);

/** A nodes row as the fleet.v1.Node message; with pacing, also its interval and grace now. */
export function toNodeMessage(
  row: NodeRow,
  pacing?: PacingSource,
): MessageInitShape<typeof NodeSchema> {
  return {
    nodeId: row.nodeId,
    hostname: row.hostname,
    ip: row.ip,
    os: row.os,
    arch: row.arch,
    labels: row.labels,
    daemonVersion: row.daemonVersion,
    agentVersion: row.agentVersion,
    status: row.status,
    registeredAt: unix(row.registeredAt),
    lastSeenAt: unix(row.lastSeenAt),
    observedIntervalSeconds: row.observedIntervalSeconds,
    ephemeral: row.ephemeral,
    ...(pacing
      ? {
          heartbeatIntervalSeconds: pacing.intervalFor(row.requestedIntervalSeconds),
          gracePeriodSeconds: pacing.graceFor(
            row.requestedIntervalSeconds,
            row.observedIntervalSeconds,
          ),
        }
      : {}),
  };
}
