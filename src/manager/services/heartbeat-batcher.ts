import { sql } from "drizzle-orm";
import type { Logger } from "../../common/logging.js";
import type { Database } from "../db/client.js";
import type { GraceRule } from "../db/queries/liveness.js";
import { touchLastSeen } from "../db/queries/nodes.js";
import { storeUnavailableCode } from "../db/store-errors.js";
import type { Telemetry } from "../telemetry.js";
import type { KnownNodes } from "./known-nodes.js";

interface Seen {
  at: Date;
  /** undefined: not measured (a registration), the row keeps its value. */
  skewSeconds: number | undefined;
  /** The connection's peer key ("" unknown) and client certificate notAfter (Unix s). */
  peer: string;
  certExpiresAt: number | undefined;
}

/**
 * Coalesces heartbeats: each node's newest last_seen (and clock skew) waits in
 * memory and all of them are written by one statement every `flushIntervalMs`,
 * so a heartbeat costs no database write of its own.
 */
export function createHeartbeatBatcher(deps: {
  db: Database;
  known: KnownNodes;
  flushIntervalMs: number;
  /** Each node's grace rule, so the flush can keep its observed cadence (pacing.ts). */
  graceRule: () => GraceRule;
  telemetry: Telemetry;
  logger: Logger;
  /** Told which peer each row held before this flush (another replica's write). */
  onFlushed?: (nodeId: string, previousPeer: string, ourPeer: string) => void;
  /** Certificates are flagged from this long before their notAfter (tls.expiry_window). */
  expiryWindowSeconds?: number;
}) {
  const windowMs = (deps.expiryWindowSeconds ?? 0) * 1000;
  let pending = new Map<string, Seen>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  // Set while the last write failed because the database is unreachable, so
  // heartbeats answer UNAVAILABLE (daemons back off) instead of an OK that
  // would be lost with this process.
  let storeDown: string | undefined;

  const flushOnce = async () => {
    if (pending.size === 0) {
      // Nothing to write, but an outage must still be noticed to be over.
      if (storeDown) {
        await deps.db.execute(sql`select 1`).then(
          () => {
            deps.logger.info("heartbeats: database reachable again");
            storeDown = undefined;
          },
          () => undefined,
        );
      }
      return;
    }
    const batch = pending;
    pending = new Map();
    const started = performance.now();
    try {
      const entries = [...batch].map(([nodeId, s]) => ({
        nodeId,
        at: s.at,
        skewSeconds: s.skewSeconds,
        peer: s.peer,
        ...(s.certExpiresAt !== undefined
          ? {
              certExpiresAt: new Date(s.certExpiresAt * 1000),
              certWarnAt: new Date(s.certExpiresAt * 1000 - windowMs),
            }
          : {}),
      }));
      const written = await touchLastSeen(deps.db, entries, deps.graceRule());
      deps.telemetry.heartbeatFlushSize.observe(batch.size);
      deps.telemetry.heartbeatFlushSeconds.observe((performance.now() - started) / 1000);
      const found = new Set<string>();
      for (const w of written) {
        found.add(w.nodeId);
        // The row exists as of this statement: renew the node's cache entry, so
        // a node that keeps heartbeating never costs the hot path a lookup when
        // its entry would have expired (at 100,000 nodes and a 5 min TTL, 333/s).
        deps.known.confirm(w.nodeId, w.requestedIntervalSeconds);
        const ours = batch.get(w.nodeId)?.peer ?? "";
        if (deps.onFlushed && w.previousPeer !== ours)
          deps.onFlushed(w.nodeId, w.previousPeer, ours);
      }
      // Gone from the database (deleted elsewhere): the next heartbeat gets NOT_FOUND.
      for (const nodeId of batch.keys()) if (!found.has(nodeId)) deps.known.forget(nodeId);
      storeDown = undefined;
    } catch (err) {
      storeDown = storeUnavailableCode(err);
      // Keep what was not written for the next flush, unless a newer heartbeat replaced it.
      for (const [nodeId, s] of batch) if (!pending.has(nodeId)) pending.set(nodeId, s);
      deps.logger.warn({ err, nodes: batch.size }, "heartbeat flush failed; will retry");
    }
  };

  const flush = () => {
    flushing = flushing.then(flushOnce);
    return flushing;
  };

  return {
    /** Remembers a heartbeat; written by the next flush. */
    record(
      nodeId: string,
      at: Date,
      skewSeconds: number | undefined,
      peer = "",
      certExpiresAt: number | undefined = undefined,
    ): void {
      const prev = pending.get(nodeId);
      if (!prev) pending.set(nodeId, { at, skewSeconds, peer, certExpiresAt });
      else if (prev.at <= at) {
        // Updated in place: a node heartbeating often costs no new entry. A flush
        // takes the whole map away first, so this never changes a batch being written.
        prev.at = at;
        if (skewSeconds !== undefined) prev.skewSeconds = skewSeconds;
        if (peer) prev.peer = peer;
        if (certExpiresAt !== undefined) prev.certExpiresAt = certExpiresAt;
      }
    },
    start(): void {
      timer ??= setInterval(() => void flush(), deps.flushIntervalMs);
      timer.unref();
    },
    /** Writes whatever is pending now (one statement). */
    flush,
    /** Stops the timer and writes the last heartbeats. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
    get pendingCount(): number {
      return pending.size;
    },
    /** The failure code while the database cannot be written, else undefined. */
    get storeDown(): string | undefined {
      return storeDown;
    },
  };
}

export type HeartbeatBatcher = ReturnType<typeof createHeartbeatBatcher>;
