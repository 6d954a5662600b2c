import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { NodeEventSchema, WatchNodesRequest } from "../../../gen/fleet/v1/fleet_pb.js";
import type { NodeWatchHub } from "../services/node-watch.js";
import { toNodeMessage } from "./node-message.js";
import type { PacingSource } from "./register-node.js";

/** WatchNodes: node events as they are recorded, resumable by event id; nodes with their pacing. */
export function createWatchNodesHandler(hub: NodeWatchHub, pacing: PacingSource) {
  return async function* (
    req: WatchNodesRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof NodeEventSchema>> {
    for await (const item of hub.watch(Number(req.afterEventId), ctx.signal)) {
      if ("keepalive" in item) {
        // kind "keepalive": no node; event_id is a resume point (see node-watch.ts).
        yield {
          eventId: BigInt(item.cursor),
          kind: "keepalive",
          time: BigInt(Math.floor(Date.now() / 1000)),
        };
        continue;
      }
      const { event, node } = item;
      yield {
        eventId: BigInt(event.id),
        nodeId: event.nodeId,
        kind: event.kind,
        reason: event.reason,
        time: BigInt(Math.floor(event.time.getTime() / 1000)),
        ...(node ? { node: toNodeMessage(node, pacing) } : {}),
      };
    }
  };
}
