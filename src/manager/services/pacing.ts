/**
 * Server-driven heartbeat pacing (as Nomad does): the interval asked of each
 * daemon grows with the fleet so that heartbeats stay under a fleet-wide rate,
 * interval = max(min, nodes / maxPerSecond).
 */
export function createPacing(opts: { minIntervalSeconds: number; maxPerSecond: number }) {
  let fleetSize = 0;
  return {
    heartbeatIntervalSeconds(): number {
      return Math.max(opts.minIntervalSeconds, Math.ceil(fleetSize / opts.maxPerSecond));
    },
    /** Updated from the liveness service's periodic node count. */
    setFleetSize(n: number): void {
      fleetSize = n;
    },
  };
}

export type Pacing = ReturnType<typeof createPacing>;
