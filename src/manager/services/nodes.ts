import { InvalidArgumentError, NodeNotFoundError } from "../../common/errors.js";
import { parseSelector } from "../../common/selector.js";
import type { NodeRegistration } from "../../common/types.js";
import type { Database } from "../db/client.js";
import {
  findNode,
  listNodes,
  type NodeRow,
  touchLastSeen,
  upsertNode,
} from "../db/queries/nodes.js";

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/** Registration and heartbeats. */
export function createNodeService(db: Database) {
  return {
    async register(reg: NodeRegistration, now = new Date()): Promise<void> {
      await upsertNode(db, reg, now);
    },

    /** Records a heartbeat; NodeNotFoundError when the node is unknown. */
    async heartbeat(nodeId: string, daemonTimestamp: number, now = new Date()): Promise<void> {
      const skewSeconds =
        daemonTimestamp > 0 ? daemonTimestamp - Math.floor(now.getTime() / 1000) : 0;
      const found = await touchLastSeen(db, [{ nodeId, at: now, skewSeconds }]);
      if (found.length === 0) throw new NodeNotFoundError(nodeId);
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
