import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetNodeRequest, GetNodeResponseSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeService } from "../services/nodes.js";
import { toNodeMessage } from "./node-message.js";

/** GetNode: one node by id. */
export function createGetNodeHandler(nodes: NodeService) {
  return async (req: GetNodeRequest): Promise<MessageInitShape<typeof GetNodeResponseSchema>> => {
    return { node: toNodeMessage(await nodes.get(req.nodeId)) };
  };
}
