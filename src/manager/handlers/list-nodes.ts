import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListNodesRequest, ListNodesResponseSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeService } from "../services/nodes.js";
import { toNodeMessage } from "./node-message.js";

/** ListNodes: status filter, label selector, keyset pagination. */
export function createListNodesHandler(nodes: NodeService) {
  return async (
    req: ListNodesRequest,
  ): Promise<MessageInitShape<typeof ListNodesResponseSchema>> => {
    const page = await nodes.list(req);
    return {
      nodes: page.rows.map((row) => toNodeMessage(row)),
      nextPageToken: page.nextPageToken,
      total: BigInt(page.total),
    };
  };
}
