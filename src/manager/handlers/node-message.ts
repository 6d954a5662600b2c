import type { MessageInitShape } from "@bufbuild/protobuf";
import type { NodeSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeRow } from "../db/queries/nodes.js";

const unix = (d: Date | null) => BigInt(d ? Math.floor(d.getTime() / 1000) : 0);

/** A nodes row as the fleet.v1.Node message. */
export function toNodeMessage(row: NodeRow, now = Date.now()): MessageInitShape<typeof NodeSchema> {
  return {
    ...trustFields(row, now),
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
  };
}

/** Fields 25–29: certificate expiry and cloned identity; the windows were applied when written. */
function trustFields(row: NodeRow, now: number): MessageInitShape<typeof NodeSchema> {
  return {
    certExpiresAt: unix(row.certExpiresAt),
    certExpiring: row.certWarnAt !== null && row.certWarnAt.getTime() <= now,
    identityConflict:
      row.identityConflictUntil !== null && row.identityConflictUntil.getTime() > now,
    identityConflictAt: unix(row.identityConflictAt),
    identityConflictPeers: row.identityConflictPeers,
  };
}
