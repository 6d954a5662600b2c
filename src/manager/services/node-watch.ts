import { InvalidArgumentError } from "../../common/errors.js";
import type { NodeEvent, NodeWithUsage } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { latestNodeEventId, nodeEventsAfter } from "../db/queries/fleet-nodes.js";

export interface NodeWatchEvent {
  event: NodeEvent;
  /** The node as it is now; null once deleted. */
  node: NodeWithUsage | null;
}

/**
 * Sent when a watch starts and after every `keepaliveMs` without events: it
 * commits the stream's headers at once (Connect sends them with the first
 * message), keeps proxies from closing an idle stream, and gives the client a
 * resume point (`cursor`: every event up to it has been delivered).
 */
export interface NodeWatchKeepalive {
  keepalive: true;
  cursor: number;
}

export interface NodeWatchOptions {
  /** How often the newest event id is polled while anyone watches. */
  pollIntervalMs?: number;
  /**
   * How long a hole in the id sequence is waited for: ids are taken at insert
   * but become visible at commit, so another replica's event may appear late.
   * Holes older than this are rolled-back ids and are skipped.
   */
  gapGraceMs?: number;
  /** Longest silence on a stream before a keepalive (default 15 s). */
  keepaliveMs?: number;
}

const BATCH = 500;

/**
 * Streams node_events to any number of watchers. One timer per manager polls
 * the newest event id (a primary-key probe) while someone watches; watchers
 * read the table only when something new exists. Works the same with several
 * replicas on one PostgreSQL and on embedded PGlite.
 */
export function createNodeWatchHub(db: Database, opts: NodeWatchOptions = {}) {
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const gapGraceMs = opts.gapGraceMs ?? 3000;
  const keepaliveMs = opts.keepaliveMs ?? 15_000;
  const closing = new AbortController();
  const waiters = new Set<{ cursor: number | undefined; wake: () => void }>();
  let latest = 0;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  const wakeAll = (onlyNewerThanCursor: boolean) => {
    for (const w of waiters) {
      if (!onlyNewerThanCursor || w.cursor === undefined || latest > w.cursor) {
        waiters.delete(w);
        w.wake();
      }
    }
  };

  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      latest = await latestNodeEventId(db);
      wakeAll(true);
    } catch {
      // Let the watchers query themselves: their own read reports the failure to the caller.
      wakeAll(false);
    } finally {
      polling = false;
    }
  };

  /**
   * Resolves on the next poll showing events past `cursor` (any poll when
   * undefined), on abort, or after `timeoutMs`.
   */
  const waitForNews = (cursor: number | undefined, signal: AbortSignal, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      // The abort listener goes away on wake too: a long stream waits many times on one signal.
      const done = () => {
        waiters.delete(w);
        clearTimeout(timeout);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const w = { cursor, wake: done };
      if (signal.aborted) return resolve();
      waiters.add(w);
      const timeout = setTimeout(done, Math.max(0, timeoutMs));
      timer ??= setInterval(() => void poll(), pollIntervalMs);
      signal.addEventListener("abort", done, { once: true });
    }).finally(() => {
      if (waiters.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    });

  return {
    /**
     * Events with id > afterEventId in id order (afterEventId 0: events from
     * now on), until the signal aborts or the hub closes; a keepalive first
     * and whenever the stream has been silent for keepaliveMs.
     */
    async *watch(
      afterEventId: number,
      signal: AbortSignal,
    ): AsyncGenerator<NodeWatchEvent | NodeWatchKeepalive> {
      if (!Number.isSafeInteger(afterEventId) || afterEventId < 0) {
        throw new InvalidArgumentError(
          "after_event_id",
          `must be a non-negative event id, got ${afterEventId}`,
        );
      }
      const stop = AbortSignal.any([signal, closing.signal]);
      let cursor = afterEventId > 0 ? afterEventId : await latestNodeEventId(db);
      yield { keepalive: true, cursor };
      let lastSent = Date.now();
      while (!stop.aborted) {
        const rows = await nodeEventsAfter(db, cursor, BATCH);
        let waitingOnGap = false;
        for (const row of rows) {
          const hole = row.event.id !== cursor + 1;
          if (hole && Date.now() - row.event.time.getTime() < gapGraceMs) {
            waitingOnGap = true;
            break;
          }
          cursor = row.event.id;
          yield row;
          lastSent = Date.now();
          if (stop.aborted) return;
        }
        if (rows.length === BATCH && !waitingOnGap) continue;
        await waitForNews(
          waitingOnGap ? undefined : cursor,
          stop,
          lastSent + keepaliveMs - Date.now(),
        );
        if (!stop.aborted && Date.now() - lastSent >= keepaliveMs) {
          yield { keepalive: true, cursor };
          lastSent = Date.now();
        }
      }
    },

    /** Ends every open watch (manager shutdown), so in-flight streams finish. */
    close(): void {
      closing.abort();
      wakeAll(false);
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type NodeWatchHub = ReturnType<typeof createNodeWatchHub>;
