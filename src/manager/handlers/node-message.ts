import type { MessageInitShape } from "@bufbuild/protobuf";
import type { NodeSchema, NodeUsageSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { Node, NodeUsage } from "../../common/types.js";
import type { PacingSource } from "./register-node.js";

const unix = (d: Date | null) => BigInt(d ? Math.floor(d.getTime() / 1000) : 0);
const opt = (v: number | null) => (v === null ? undefined : v);

/** A node's usage as the NodeUsage message; undefined until the node reported usage. */
function toUsageMessage(u: NodeUsage | null): MessageInitShape<typeof NodeUsageSchema> | undefined {
  if (!u?.sampledAt) return undefined;
  return {
    cpuPercent: opt(u.cpuPercent),
    memoryPercent: opt(u.memoryPercent),
    diskPercent: opt(u.diskPercent),
    networkRxBytesPerSecond: opt(u.networkRxBytesPerSecond),
    networkTxBytesPerSecond: opt(u.networkTxBytesPerSecond),
    sampledAt: unix(u.sampledAt),
  };
}

/**
 * A node (with its usage when read) as the fleet.v1.Node message; with
 * pacing, also its interval and grace now.
 */
export function toNodeMessage(
  row: Node & { usage?: NodeUsage | null },
  pacing?: PacingSource,
  now = Date.now(),
): MessageInitShape<typeof NodeSchema> {
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
    usage: toUsageMessage(row.usage ?? null),
    statusChangedAt: unix(row.statusChangedAt),
    offlineSince: row.status === "offline" ? unix(row.statusChangedAt) : 0n,
    clockSkewSeconds: row.clockSkewSeconds,
    flapping: row.flapping,
  };
}

/** Fields 25–29: certificate expiry and cloned identity; the windows were applied when written. */
function trustFields(row: Node, now: number) {
  return {
    certExpiresAt: unix(row.certExpiresAt),
    certExpiring: row.certWarnAt !== null && row.certWarnAt.getTime() <= now,
    identityConflict:
      row.identityConflictUntil !== null && row.identityConflictUntil.getTime() > now,
    identityConflictAt: unix(row.identityConflictAt),
    identityConflictPeers: row.identityConflictPeers,
  };
}
