import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetNodeRequest, GetNodeResponseSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeService } from "../services/nodes.js";
import { toNodeMessage } from "./node-message.js";
import type { PacingSource } from "./register-node.js";

/** GetNode: one node by id, with the interval asked of it and its grace period. */
export function createGetNodeHandler(nodes: NodeService, pacing: PacingSource) {
  return async (req: GetNodeRequest): Promise<MessageInitShape<typeof GetNodeResponseSchema>> => {
    return { node: toNodeMessage(await nodes.get(req.nodeId), pacing) };
  };
}
