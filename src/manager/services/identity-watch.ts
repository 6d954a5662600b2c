import type { Logger } from "../../common/logging.js";
import type { Database } from "../db/client.js";
import { recordIdentityConflict } from "../db/queries/nodes.js";

interface PeerState {
  current: string;
  previous: string;
  /** When `current` replaced `previous` (ms). */
  switchedAt: number;
  /** When a conflict was last written for this node (ms), 0 never. */
  recordedAt: number;
  /** The peer this replica's last heartbeat flush wrote into the row; undefined before the first. */
  lastWritten: string | undefined;
}

/** Most nodes tracked; beyond it the longest-unseen entry goes (a clone seen again is re-learnt). */
const MAX_TRACKED = 500_000;
/** A conflict that keeps going is written again at most this often. */
const RECORD_EVERY_MS = 60_000;

/**
 * Notices one node_id served by two daemons at once. A daemon keeps one
 * connection, so its calls share one peer (address, certificate); a daemon
 * that reconnects from elsewhere switches peer once and stays. Two daemons
 * with the same node_id alternate: peer A, then B, then A again within the
 * window (two heartbeat intervals). That return to the previous peer is the
 * conflict: it is written once (node flagged, `identity_conflict` event with
 * both peers), and again at most once a minute while it lasts.
 *
 * Cost per heartbeat: one Map lookup and a string compare; nothing is written
 * unless a conflict is found. With several replicas, each replica only sees
 * its own share of heartbeats, so each row keeps the peer of its last flush
 * (`last_peer`, written by the same statement) and the flush reads back what
 * the row held before: when that is neither what this replica wrote last time
 * nor ours, another replica is serving a second daemon with this node_id
 * (seen at flush granularity, within one flush interval plus a heartbeat).
 */
export function createIdentityWatch(deps: {
  db: Database;
  logger: Logger;
  /** A node's window: peers alternating faster than this are two daemons. */
  windowMs: (nodeId: string) => number;
  holdSeconds: number;
  enabled: boolean;
}) {
  const states = new Map<string, PeerState>();
  let pending: Promise<unknown> = Promise.resolve();

  const conflict = (nodeId: string, s: PeerState, pair: [string, string], now: number) => {
    if (now - s.recordedAt < RECORD_EVERY_MS) return;
    s.recordedAt = now;
    const peers = [...pair].sort().join(" and ");
    deps.logger.warn({ nodeId, peers }, "node_id served by two daemons at once (cloned identity?)");
    pending = pending
      .then(() =>
        recordIdentityConflict(deps.db, {
          nodeId,
          peers,
          at: new Date(now),
          until: new Date(now + deps.holdSeconds * 1000),
        }),
      )
      .catch((err: unknown) => {
        // Not written: the next alternation (a minute on) tries again.
        s.recordedAt = 0;
        deps.logger.warn({ err, nodeId }, "cannot record identity conflict");
      });
  };

  const observe = (nodeId: string, key: string, now = Date.now()): void => {
    if (!deps.enabled || key === "") return;
    const s = states.get(nodeId);
    if (!s) {
      if (states.size >= MAX_TRACKED) {
        const oldest = states.keys().next().value;
        if (oldest !== undefined) states.delete(oldest);
      }
      states.set(nodeId, {
        current: key,
        previous: "",
        switchedAt: now,
        recordedAt: 0,
        lastWritten: undefined,
      });
      return;
    }
    if (s.current === key) return;
    const back = key === s.previous && now - s.switchedAt <= deps.windowMs(nodeId);
    s.previous = s.current;
    s.current = key;
    s.switchedAt = now;
    if (back) conflict(nodeId, s, [s.previous, s.current], now);
  };

  return {
    observe,
    /**
     * The heartbeat flush wrote `ours` into the row, which held `previousPeer`.
     * When that is not what this replica wrote last time, another replica
     * wrote it in between: a second daemon is being served there.
     */
    flushed(nodeId: string, previousPeer: string, ours: string, now = Date.now()): void {
      const s = states.get(nodeId);
      if (!deps.enabled || !s || ours === "") return;
      const mine = s.lastWritten;
      s.lastWritten = ours;
      // Our first write: the row holds history (the node moved here), not a rival.
      if (mine === undefined || previousPeer === "" || previousPeer === mine) return;
      if (previousPeer === ours) return;
      conflict(nodeId, s, [previousPeer, ours], now);
    },
    forget(nodeId: string): void {
      states.delete(nodeId);
    },
    /** Waits for conflicts being written (tests, shutdown). */
    settled: () => pending,
  };
}

export type IdentityWatch = ReturnType<typeof createIdentityWatch>;
