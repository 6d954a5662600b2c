import type { GraceRule } from "../db/queries/liveness.js";

/**
 * Server-driven heartbeat pacing (as Nomad does) and the per-node grace that
 * follows from it (DESIGN §2 Liveness). The manager's floor grows with the
 * fleet so heartbeats stay under a fleet-wide rate:
 *   floor    = max(min_interval, nodes / max_per_second)
 *   interval = max(the daemon's configured interval, floor)
 *   grace    = multiplier × max(interval, the cadence the node is observed to keep)
 * A daemon that does not say its interval (the existing Go daemons) is asked
 * for `defaultIntervalSeconds`; the observed cadence keeps one that ignores the
 * answer from flapping.
 */
export interface PacingOptions {
  /** The floor's minimum (heartbeat.min_interval). */
  minIntervalSeconds: number;
  /** Asked of daemons that do not say theirs (heartbeat.interval). */
  defaultIntervalSeconds: number;
  maxPerSecond: number;
  graceMultiplier: number;
  /** A fixed grace for every node (liveness.grace_period); 0 = per node. */
  gracePeriodSeconds: number;
}

export function createPacing(opts: PacingOptions) {
  let fleetSize = 0;
  const floorSeconds = () =>
    Math.max(opts.minIntervalSeconds, Math.ceil(fleetSize / opts.maxPerSecond));
  const intervalFor = (requestedSeconds: number) =>
    Math.max(requestedSeconds > 0 ? requestedSeconds : opts.defaultIntervalSeconds, floorSeconds());
  return {
    floorSeconds,
    /** The interval asked of a node that is configured for `requestedSeconds` (0 = not said). */
    intervalFor,
    /** A node's grace period from what it asked for and the cadence it keeps. */
    graceFor(requestedSeconds: number, observedSeconds: number): number {
      if (opts.gracePeriodSeconds > 0) return opts.gracePeriodSeconds;
      return opts.graceMultiplier * Math.max(intervalFor(requestedSeconds), observedSeconds);
    },
    /** The same rule, as parameters for SQL. */
    graceRule(): GraceRule {
      return {
        fixedSeconds: opts.gracePeriodSeconds,
        multiplier: opts.graceMultiplier,
        defaultIntervalSeconds: opts.defaultIntervalSeconds,
        floorSeconds: floorSeconds(),
      };
    },
    /** The interval asked of a daemon that does not say its own. */
    heartbeatIntervalSeconds(): number {
      return intervalFor(0);
    },
    /** Updated from the liveness service's periodic node count. */
    setFleetSize(n: number): void {
      fleetSize = n;
    },
  };
}

export type Pacing = ReturnType<typeof createPacing>;
