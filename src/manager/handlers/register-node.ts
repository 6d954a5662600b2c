import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  RegisterNodeRequest,
  RegisterNodeResponseSchema,
} from "../../../gen/manager/manager_pb.js";
import type { NodeService } from "../services/nodes.js";
import { callPeerOf } from "./call-peer.js";

export interface PacingSource {
  heartbeatIntervalSeconds(): number;
}

/** RegisterNode: proto → NodeRegistration → nodes service. */
export function createRegisterNodeHandler(nodes: NodeService, pacing: PacingSource) {
  return async (
    req: RegisterNodeRequest,
    ctx?: HandlerContext,
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
      },
      callPeerOf(ctx),
    );
    return {
      success: true,
      message: "registered",
      heartbeatIntervalSeconds: pacing.heartbeatIntervalSeconds(),
      serverTime: BigInt(Math.floor(Date.now() / 1000)),
    };
  };
}
