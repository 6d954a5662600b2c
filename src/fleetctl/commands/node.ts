import { toJson } from "@bufbuild/protobuf";
import { NodeSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { CommandContext } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { ago, bytes, isoTime, labelText, pctCell, table } from "../format.js";

/** `fleetctl node ID`: one node's details. */
export async function nodeCommand(ctx: CommandContext): Promise<void> {
  const [nodeId] = ctx.args;
  if (!nodeId || ctx.args.length > 1) throw new UsageError("usage: fleetctl node ID");
  const { node } = await ctx.client.getNode(
    { nodeId },
    { signal: ctx.signal, timeoutMs: ctx.timeoutMs },
  );
  if (!node) throw new Error("manager returned no node");
  if (ctx.json) {
    ctx.out(JSON.stringify(toJson(NodeSchema, node)));
    return;
  }
  const last = Number(node.lastSeenAt);
  const u = node.usage;
  ctx.out(
    table([
      ["node_id", node.nodeId],
      ["status", node.status],
      ["hostname", node.hostname || "-"],
      ["ip", node.ip || "-"],
      ["os/arch", `${node.os || "?"}/${node.arch || "?"}`],
      ["daemon_version", node.daemonVersion || "-"],
      ["agent_version", node.agentVersion || "-"],
      ["labels", labelText(node.labels)],
      ["registered_at", isoTime(Number(node.registeredAt))],
      ["last_seen_at", last ? `${isoTime(last)} (${ago(last)})` : "never"],
      [
        "heartbeat",
        `every ${node.heartbeatIntervalSeconds}s${node.observedIntervalSeconds ? ` (seen ${node.observedIntervalSeconds}s)` : ""}, offline after ${node.gracePeriodSeconds}s${node.ephemeral ? ", ephemeral" : ""}`,
      ],
      ...(node.offlineSince
        ? [
            [
              "offline_since",
              `${isoTime(Number(node.offlineSince))} (${ago(Number(node.offlineSince))})`,
            ],
          ]
        : []),
      ["clock_skew", `${node.clockSkewSeconds}s`],
      ["flapping", node.flapping ? "yes" : "no"],
      [
        "usage",
        u
          ? `cpu ${pctCell(u.cpuPercent)}  memory ${pctCell(u.memoryPercent)}  disk ${pctCell(u.diskPercent)}  rx ${bytes(u.networkRxBytesPerSecond ?? 0)}/s  tx ${bytes(u.networkTxBytesPerSecond ?? 0)}/s  (${ago(Number(u.sampledAt))})`
          : "none reported",
      ],
      ...trustRows(node),
    ]),
  );
}

/** Certificate expiry and cloned identity, shown only when the manager knows something. */
function trustRows(node: {
  certExpiresAt: bigint;
  certExpiring: boolean;
  identityConflict: boolean;
  identityConflictAt: bigint;
  identityConflictPeers: string;
}): [string, string][] {
  const rows: [string, string][] = [];
  const expires = Number(node.certExpiresAt);
  if (expires) {
    const days = Math.floor((expires * 1000 - Date.now()) / 86_400_000);
    const when = days < 0 ? "EXPIRED" : `in ${days} d`;
    rows.push([
      "cert_expires_at",
      `${isoTime(expires)} (${when})${node.certExpiring ? "  ! EXPIRES SOON: renew it" : ""}`,
    ]);
  }
  if (node.identityConflict) {
    rows.push([
      "identity",
      `! CONFLICT: two daemons use this node_id (${node.identityConflictPeers}), last ${ago(Number(node.identityConflictAt))}; run \`fleet-daemon reset-id\` on the clone`,
    ]);
  }
  return rows;
}
