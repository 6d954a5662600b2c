import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";
import type {
  RegisterNodeRequest,
  RegisterNodeResponseSchema,
} from "../../../gen/manager/manager_pb.js";
import type { NodeService } from "../services/nodes.js";
import { callPeerOf } from "./call-peer.js";

export interface PacingSource {
  /** The interval asked of a node configured for `requestedSeconds` (0 = not said). */
  intervalFor(requestedSeconds: number): number;
  /** A node's grace from its requested interval and observed cadence. */
  graceFor(requestedSeconds: number, observedSeconds: number): number;
}

/** RegisterNode: proto → NodeRegistration → nodes service. */
export function createRegisterNodeHandler(
  nodes: NodeService,
  pacing: PacingSource,
  goaway: { registered(values: ContextValues): void },
) {
  return async (
    req: RegisterNodeRequest,
    ctx: HandlerContext,
  ): Promise<MessageInitShape<typeof RegisterNodeResponseSchema>> => {
    await nodes.register(
      {
        nodeId: req.nodeId,
        hostname: req.hostname,
        ip: req.ip,
        os: req.os,
        arch: req.arch,
        labels: { ...req.labels },
        daemonVersion: req.daemonVersion,
        agentVersion: req.agentVersion,
        heartbeatIntervalSeconds: req.heartbeatIntervalSeconds,
        ephemeral: req.ephemeral,
      },
      callPeerOf(ctx),
    );
    goaway.registered(ctx.values);
    return {
      success: true,
      message: "registered",
      heartbeatIntervalSeconds: pacing.intervalFor(req.heartbeatIntervalSeconds),
      serverTime: BigInt(Math.floor(Date.now() / 1000)),
    };
  };
}
