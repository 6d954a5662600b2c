import { NodeNotFoundError } from "../../common/errors.js";
import type { Database } from "../db/client.js";
import { findNode } from "../db/queries/nodes.js";

/**
 * Which nodes exist, from memory on the hot path. A miss asks the database,
 * so a node registered through another replica is found; unknown ids are not
 * cached, so a registration counts at once. Entries expire after `ttlMs` (a
 * node deleted elsewhere is noticed), and the heartbeat flush evicts ids the
 * database no longer has and renews the ones it wrote.
 */
interface Known {
  until: number;
  /** The interval the node asked for at registration (0 = not said), for the heartbeat's answer. */
  requestedIntervalSeconds: number;
}

export function createKnownNodes(db: Database, opts: { ttlMs: number }) {
  const known = new Map<string, Known>();
  const lookups = new Map<string, Promise<boolean>>();

  const lookup = (nodeId: string): Promise<boolean> => {
    let p = lookups.get(nodeId);
    if (!p) {
      p = findNode(db, nodeId)
        .then((row) => {
          if (row)
            known.set(nodeId, {
              until: Date.now() + opts.ttlMs,
              requestedIntervalSeconds: row.requestedIntervalSeconds,
            });
          return row !== undefined;
        })
        .finally(() => lookups.delete(nodeId));
      lookups.set(nodeId, p);
    }
    return p;
  };

  return {
    /** True when memory alone says the node exists (fresh entry): the hot path needs no promise. */
    isKnown(nodeId: string): boolean {
      const entry = known.get(nodeId);
      return entry !== undefined && entry.until > Date.now();
    },
    /** The interval a known node asked for (0 when not said or not known here). */
    requestedIntervalSeconds(nodeId: string): number {
      return known.get(nodeId)?.requestedIntervalSeconds ?? 0;
    },
    /** Resolves when the node exists; NodeNotFoundError otherwise. */
    async require(nodeId: string): Promise<void> {
      const entry = known.get(nodeId);
      if (entry !== undefined && entry.until > Date.now()) return;
      if (!(await lookup(nodeId))) {
        known.delete(nodeId);
        throw new NodeNotFoundError(nodeId);
      }
    },
    add(nodeId: string, requestedIntervalSeconds = 0): void {
      known.set(nodeId, { until: Date.now() + opts.ttlMs, requestedIntervalSeconds });
    },
    /**
     * The database just showed the node exists (the heartbeat flush wrote its
     * row): renews its entry, even an expired one, with what the row holds.
     */
    confirm(nodeId: string, requestedIntervalSeconds: number): void {
      known.set(nodeId, { until: Date.now() + opts.ttlMs, requestedIntervalSeconds });
    },
    forget(nodeId: string): void {
      known.delete(nodeId);
    },
    get size(): number {
      return known.size;
    },
  };
}

export type KnownNodes = ReturnType<typeof createKnownNodes>;
