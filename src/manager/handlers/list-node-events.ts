import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ListNodeEventsRequest,
  ListNodeEventsResponseSchema,
} from "../../../gen/fleet/v1/fleet_pb.js";
import type { FleetHistoryService } from "../services/fleet-history.js";

/** ListNodeEvents: the history behind WatchNodes, newest first. */
export function createListNodeEventsHandler(history: FleetHistoryService) {
  return async (
    req: ListNodeEventsRequest,
  ): Promise<MessageInitShape<typeof ListNodeEventsResponseSchema>> => {
    const page = await history.listEvents(req);
    return {
      nextPageToken: page.nextPageToken,
      events: page.events.map((e) => ({
        eventId: BigInt(e.id),
        nodeId: e.nodeId,
        kind: e.kind,
        reason: e.reason,
        time: BigInt(Math.floor(e.time.getTime() / 1000)),
      })),
    };
  };
}
