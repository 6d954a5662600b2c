import {
  InvalidArgumentError,
  NodeNotFoundError,
  StoreUnavailableError,
} from "../../common/errors.js";
import { parseSelector } from "../../common/selector.js";
import type { NodeRegistration, NodeWithUsage } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { listNodes, ORDER_KEYS, type OrderKey } from "../db/queries/node-list.js";
import { findNodeWithUsage, upsertNode } from "../db/queries/nodes.js";
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
    /** Registers (or refreshes) a node; it is online at once. */
    async register(reg: NodeRegistration, peer?: CallPeer, now = new Date()): Promise<void> {
      await upsertNode(db, reg, now);
      deps.known.add(reg.nodeId, reg.heartbeatIntervalSeconds ?? 0);
      if (peer) {
        deps.identity?.observe(reg.nodeId, peer.key, now.getTime());
        // Its certificate's expiry and peer go with the next heartbeat flush (no write of their own).
        deps.heartbeats.record(reg.nodeId, now, undefined, peer.key, peer.certExpiresAt);
      }
    },

    /** The interval a node asked for at registration (from memory; 0 = not said). */
    requestedIntervalSeconds(nodeId: string): number {
      return deps.known.requestedIntervalSeconds(nodeId);
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
      const down = deps.heartbeats.storeDown;
      if (down) throw new StoreUnavailableError(`database unavailable (${down}); retry later`);
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

    /**
     * A page of nodes in the asked order. The page token is the keyset
     * position after the previous page's last row: its node_id alone for the
     * node_id order (the format of earlier releases), else its sort value too.
     */
    async list(q: {
      status: string;
      selector: string;
      pageSize: number;
      pageToken: string;
      orderBy: string;
      descending: boolean;
    }) {
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
      const orderBy = (q.orderBy || "node_id") as OrderKey;
      if (!ORDER_KEYS.includes(orderBy)) {
        throw new InvalidArgumentError(
          "order_by",
          `must be one of ${ORDER_KEYS.join(", ")}, got ${JSON.stringify(q.orderBy.slice(0, 40))}`,
        );
      }
      const limit = q.pageSize || DEFAULT_PAGE_SIZE;
      const after = q.pageToken ? decodeToken(q.pageToken, orderBy, q.descending) : undefined;
      const { rows, total } = await listNodes(db, {
        status: q.status,
        selector: parseSelector(q.selector),
        orderBy,
        descending: q.descending,
        after,
        limit,
      });
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      const nextPageToken = last
        ? encodeToken(orderBy, q.descending, { key: last.key, nodeId: last.nodeId })
        : "";
      return { rows: rows as NodeWithUsage[], total, nextPageToken };
    },

    async get(nodeId: string): Promise<NodeWithUsage> {
      const row = await findNodeWithUsage(db, nodeId);
      if (!row) throw new NodeNotFoundError(nodeId);
      return row;
    },
  };
}

const NUMBER_TEXT = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
const TOKEN_NODE_ID = /^[A-Za-z0-9._:-]{1,1024}$/;

function encodeToken(orderBy: OrderKey, desc: boolean, at: { key: string; nodeId: string }) {
  const text = orderBy === "node_id" ? at.nodeId : JSON.stringify({ o: orderBy, d: desc, ...at });
  return Buffer.from(text, "utf8").toString("base64url");
}

/** A token back into a keyset position; a forged or foreign token never reaches SQL. */
function decodeToken(token: string, orderBy: OrderKey, desc: boolean) {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const bad = (why: string) => new InvalidArgumentError("page_token", why);
  if (orderBy === "node_id") {
    if (!TOKEN_NODE_ID.test(text)) throw bad("not a token from a previous page");
    return { key: "", nodeId: text };
  }
  let t: { o?: unknown; d?: unknown; key?: unknown; nodeId?: unknown };
  try {
    t = JSON.parse(text);
  } catch {
    throw bad("not a token from a previous page");
  }
  if (t.o !== orderBy || t.d !== desc) {
    throw bad(
      `comes from a listing with another order (${String(t.o)}); start from the first page`,
    );
  }
  if (
    typeof t.key !== "string" ||
    !NUMBER_TEXT.test(t.key) ||
    typeof t.nodeId !== "string" ||
    !TOKEN_NODE_ID.test(t.nodeId)
  ) {
    throw bad("not a token from a previous page");
  }
  return { key: t.key, nodeId: t.nodeId };
}

export type NodeService = ReturnType<typeof createNodeService>;

/** clock_skew_seconds is an int column; an absurd daemon clock must not overflow it. */
function clampSkew(seconds: number): number {
  return Math.max(-2_000_000_000, Math.min(2_000_000_000, seconds));
}
