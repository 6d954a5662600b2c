import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type HeartbeatRequest,
  type HeartbeatResponse,
  HeartbeatResponseSchema,
} from "../../../gen/manager/manager_pb.js";
import type { NodeService } from "../services/nodes.js";
import { callPeerOf } from "./call-peer.js";
import type { PacingSource } from "./register-node.js";

/** Heartbeat: records liveness; NOT_FOUND for unknown nodes. */
export function createHeartbeatHandler(nodes: NodeService, pacing: PacingSource) {
  const answers = new HeartbeatAnswers();
  return async (req: HeartbeatRequest, ctx?: HandlerContext): Promise<HeartbeatResponse> => {
    await nodes.heartbeat(req.nodeId, Number(req.timestamp), callPeerOf(ctx));
    return answers.get(
      pacing.intervalFor(nodes.requestedIntervalSeconds(req.nodeId)),
      Math.floor(Date.now() / 1000),
    );
  };
}

/**
 * Every node gets the same answer within a second, given the same pacing
 * interval: one message per (second, interval), shared by those calls, so the
 * fast path encodes it once (call.ts reuses the frame of a message it has just
 * sent). A shared message is never changed after it is handed out.
 */
class HeartbeatAnswers {
  #second = -1;
  #byInterval = new Map<number, HeartbeatResponse>();

  get(intervalSeconds: number, nowSecond: number): HeartbeatResponse {
    if (nowSecond !== this.#second) {
      this.#second = nowSecond;
      this.#byInterval.clear();
    }
    let answer = this.#byInterval.get(intervalSeconds);
    if (!answer) {
      answer = create(HeartbeatResponseSchema, {
        success: true,
        heartbeatIntervalSeconds: intervalSeconds,
        serverTime: BigInt(nowSecond),
      });
      this.#byInterval.set(intervalSeconds, answer);
    }
    return answer;
  }
}
