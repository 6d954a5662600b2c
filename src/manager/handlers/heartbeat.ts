import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { HeartbeatRequest, HeartbeatResponseSchema } from "../../../gen/manager/manager_pb.js";
import type { NodeService } from "../services/nodes.js";
import { callPeerOf } from "./call-peer.js";
import type { PacingSource } from "./register-node.js";

/** Heartbeat: records liveness; NOT_FOUND for unknown nodes. */
export function createHeartbeatHandler(nodes: NodeService, pacing: PacingSource) {
  return async (
    req: HeartbeatRequest,
    ctx?: HandlerContext,
  ): Promise<MessageInitShape<typeof HeartbeatResponseSchema>> => {
    await nodes.heartbeat(req.nodeId, Number(req.timestamp), callPeerOf(ctx));
    return {
      success: true,
      heartbeatIntervalSeconds: pacing.intervalFor(nodes.requestedIntervalSeconds(req.nodeId)),
      serverTime: BigInt(Math.floor(Date.now() / 1000)),
    };
  };
}
