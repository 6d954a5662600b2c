import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../../common/logging.js";
import type { Database } from "../db/client.js";
import { claimLease, releaseLease } from "../db/queries/leases.js";

/**
 * Leader election by a lease row (leader_leases) written through the normal
 * connection pool. It replaced a session advisory lock held on a reserved
 * connection: when PostgreSQL restarted, that connection's next query crashed
 * the process (postgres.js#1208), and a lock on a half-open connection stays
 * held until the server notices, so nobody would lead. A lease needs no
 * connection of its own, survives the database going away and coming back,
 * and expires by itself when its holder dies.
 */
export interface LeaderLease {
  /** This process's holder id (host, pid and a random part). */
  readonly holder: string;
  /**
   * Claims or renews the lease; true while this replica leads. Never throws: a
   * database that cannot be reached means "not leading" until it is back.
   */
  refresh(): Promise<boolean>;
  /** Whether the last renewal is still inside its TTL (by this process's clock). */
  isLeader(): boolean;
  /** Stops renewing and deletes the row, so another replica leads at once. */
  release(): Promise<void>;
}

export function createLeaderLease(deps: {
  db: Database;
  name: string;
  /** How long a renewal holds; the holder renews well before (every sweep). */
  ttlMs: number;
  logger: Logger;
  holder?: string;
}): LeaderLease {
  const { db, name, ttlMs, logger } = deps;
  const holder = deps.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  // Measured from before the claim was sent, so the local view ends no later
  // than the database's.
  let validUntil = 0;
  let leading = false;
  let unreachable = false;
  let released = false;

  const note = (now: boolean) => {
    if (now && !leading) logger.info({ lease: name, holder }, "this replica now leads");
    if (!now && leading) logger.warn({ lease: name, holder }, "this replica no longer leads");
    leading = now;
  };

  return {
    holder,
    async refresh() {
      if (released) return false;
      const sentAt = Date.now();
      let granted = false;
      try {
        granted = await claimLease(db, name, holder, ttlMs);
        if (unreachable) logger.info({ lease: name }, "leader lease: database reachable again");
        unreachable = false;
      } catch (err) {
        // Logged once per outage; the caller keeps trying on its own timer.
        if (!unreachable) {
          logger.warn({ err, lease: name }, "leader lease: database unreachable; not leading");
        }
        unreachable = true;
      }
      validUntil = granted && !released ? sentAt + ttlMs : 0;
      note(validUntil > 0);
      return validUntil > 0;
    },
    isLeader: () => Date.now() < validUntil,
    async release() {
      released = true;
      const held = Date.now() < validUntil;
      validUntil = 0;
      note(false);
      if (!held) return;
      try {
        await releaseLease(db, name, holder);
      } catch (err) {
        // The row expires by itself after ttlMs.
        logger.warn({ err, lease: name }, "leader lease: release failed; it expires by itself");
      }
    },
  };
}
