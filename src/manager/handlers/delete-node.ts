import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  DeleteNodeRequest,
  DeleteNodeResponseSchema,
} from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetQueryService } from "../services/fleet-query.js";

/** DeleteNode: removes the node and its metrics; NOT_FOUND when unknown. */
export function createDeleteNodeHandler(fleet: FleetQueryService) {
  return async (
    req: DeleteNodeRequest,
  ): Promise<MessageInitShape<typeof DeleteNodeResponseSchema>> => {
    await fleet.deleteNode(req.nodeId);
    return {};
  };
}
