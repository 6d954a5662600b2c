import type { Health } from "../health.js";
import type { Spool } from "../spool/spool.js";
import { type Collector, unixSeconds } from "./collector.js";

/**
 * type `daemon`: the daemon's own health, so a gap or a backlog shows up on
 * the manager like any other series (dropped batches and their time range).
 */
export function createSelfCollector(health: Health, spool: Spool): Collector {
  return {
    type: "daemon",
    async collect(now) {
      const s = spool.stats();
      const mem = process.memoryUsage();
      return [
        {
          type: "daemon",
          timestamp: unixSeconds(now),
          labels: {},
          values: {
            spool_bytes: s.bytes,
            spool_batches: s.batches,
            spool_oldest_timestamp: s.oldestTimestamp,
            batches_dropped: s.droppedBatches,
            samples_dropped: s.droppedSamples,
            dropped_from_timestamp: s.droppedFrom,
            dropped_to_timestamp: s.droppedTo,
            ticks_missed: health.ticksMissed,
            ticks_late: health.ticksLate,
            clock_steps: health.clockSteps,
            retries: health.retries,
            last_error_code: health.lastError?.codeNumber ?? 0,
            batches_sent: health.batchesSent,
            rss_bytes: mem.rss,
            heap_used_bytes: mem.heapUsed,
            uptime_seconds: Math.round((Date.now() - health.startedAt) / 1000),
            // So the fleet sees a certificate about to lapse before the daemon goes dark.
            ...(health.tlsCertExpiresAt
              ? { tls_cert_expiry_timestamp: health.tlsCertExpiresAt }
              : {}),
          },
        },
      ];
    },
  };
}
