import { InvalidArgumentError, NodeNotFoundError } from "../../common/errors.js";
import { parseSelector } from "../../common/selector.js";
import type { NodeRegistration } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { findNode, listNodes, type NodeRow, upsertNode } from "../db/queries/nodes.js";
import type { HeartbeatBatcher } from "./heartbeat-batcher.js";
import type { IdentityWatch } from "./identity-watch.js";
import type { KnownNodes } from "./known-nodes.js";

/** Who sent a call: the connection's peer key and its client certificate's notAfter. */
export interface CallPeer {
  key: string;
  certExpiresAt: number | undefined;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/**
 * Registration and heartbeats. A heartbeat checks the node against memory
 * (KnownNodes) and hands last_seen to the batcher: no database write of its own.
 */
export function createNodeService(
  db: Database,
  deps: { known: KnownNodes; heartbeats: HeartbeatBatcher; identity?: IdentityWatch },
) {
  return {
    async register(reg: NodeRegistration, peer?: CallPeer, now = new Date()): Promise<void> {
      await upsertNode(db, reg, now);
      deps.known.add(reg.nodeId);
      if (peer) {
        deps.identity?.observe(reg.nodeId, peer.key, now.getTime());
        // Its certificate's expiry and peer go with the next heartbeat flush (no write of their own).
        deps.heartbeats.record(reg.nodeId, now, undefined, peer.key, peer.certExpiresAt);
      }
    },

    /**
     * Records a heartbeat; NodeNotFoundError when the node is unknown. The
     * daemon's own timestamp gives its clock skew (0 when it sent none).
     */
    async heartbeat(
      nodeId: string,
      daemonTimestamp: number,
      peer?: CallPeer,
      now = new Date(),
    ): Promise<void> {
      if (!deps.known.isKnown(nodeId)) await deps.known.require(nodeId);
      const skewSeconds =
        daemonTimestamp > 0 ? daemonTimestamp - Math.floor(now.getTime() / 1000) : 0;
      if (peer) deps.identity?.observe(nodeId, peer.key, now.getTime());
      deps.heartbeats.record(
        nodeId,
        now,
        clampSkew(skewSeconds),
        peer?.key ?? "",
        peer?.certExpiresAt,
      );
    },

    /** A page of nodes; the page token is the last node_id of the previous page. */
    async list(q: { status: string; selector: string; pageSize: number; pageToken: string }) {
      if (q.status !== "" && q.status !== "online" && q.status !== "offline") {
        throw new InvalidArgumentError(
          "status",
          `must be "online", "offline" or empty, got "${q.status}"`,
        );
      }
      if (q.pageSize < 0 || q.pageSize > MAX_PAGE_SIZE) {
        throw new InvalidArgumentError(
          "page_size",
          `must be 0–${MAX_PAGE_SIZE}, got ${q.pageSize}`,
        );
      }
      const limit = q.pageSize || DEFAULT_PAGE_SIZE;
      const after = q.pageToken ? Buffer.from(q.pageToken, "base64url").toString("utf8") : "";
      // A forged token must not reach SQL as arbitrary text (NUL bytes make PostgreSQL fail).
      if (q.pageToken && !/^[A-Za-z0-9._:-]{1,1024}$/.test(after)) {
        throw new InvalidArgumentError("page_token", "not a token from a previous page");
      }
      const { rows, total } = await listNodes(db, {
        status: q.status,
        selector: parseSelector(q.selector),
        after,
        limit,
      });
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      const nextPageToken = last ? Buffer.from(last.nodeId, "utf8").toString("base64url") : "";
      return { rows, total, nextPageToken };
    },

    async get(nodeId: string): Promise<NodeRow> {
      const row = await findNode(db, nodeId);
      if (!row) throw new NodeNotFoundError(nodeId);
      return row;
    },
  };
}

export type NodeService = ReturnType<typeof createNodeService>;

/** clock_skew_seconds is an int column; an absurd daemon clock must not overflow it. */
function clampSkew(seconds: number): number {
  return Math.max(-2_000_000_000, Math.min(2_000_000_000, seconds));
}
