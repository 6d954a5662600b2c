import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { CallPeer } from "../services/nodes.js";

/** The connection's peer (address, client certificate), set per request by server.ts. */
export const callPeerKey = createContextKey<CallPeer | undefined>(undefined, {
  description: "fleet call peer",
});

/** The peer of a call, when the transport told us (undefined in-process). */
export const callPeerOf = (ctx: HandlerContext | undefined): CallPeer | undefined =>
  ctx?.values.get(callPeerKey);
