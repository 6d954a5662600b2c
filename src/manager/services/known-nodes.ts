import { NodeNotFoundError } from "../../common/errors.js";
import type { Database } from "../db/client.js";
import { findNode } from "../db/queries/nodes.js";

/**
 * Which nodes exist, from memory on the hot path. A miss asks the database,
 * so a node registered through another replica is found; unknown ids are not
 * cached, so a registration counts at once. Entries expire after `ttlMs` (a
 * node deleted elsewhere is noticed), and the heartbeat flush evicts ids the
 * database no longer has.
 */
export function createKnownNodes(db: Database, opts: { ttlMs: number }) {
  const known = new Map<string, number>();
  const lookups = new Map<string, Promise<boolean>>();

  const lookup = (nodeId: string): Promise<boolean> => {
    let p = lookups.get(nodeId);
    if (!p) {
      p = findNode(db, nodeId)
        .then((row) => {
          if (row) known.set(nodeId, Date.now() + opts.ttlMs);
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
      const until = known.get(nodeId);
      return until !== undefined && until > Date.now();
    },
    /** Resolves when the node exists; NodeNotFoundError otherwise. */
    async require(nodeId: string): Promise<void> {
      const until = known.get(nodeId);
      if (until !== undefined && until > Date.now()) return;
      if (!(await lookup(nodeId))) {
        known.delete(nodeId);
        throw new NodeNotFoundError(nodeId);
      }
    },
    add(nodeId: string): void {
      known.set(nodeId, Date.now() + opts.ttlMs);
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
