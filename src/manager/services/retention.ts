import type { Logger } from "../../common/logging.js";
import type { DatabaseHandle } from "../db/client.js";
import { pruneNodeEvents } from "../db/queries/liveness.js";
import {
  createDailyPartition,
  dayStart,
  dropPartition,
  listDailyPartitions,
  partitionName,
} from "../db/queries/partitions.js";

const DAY_MS = 86_400_000;
/** Advisory-lock key serializing partition DDL between replicas. */
export const PARTITION_LOCK_KEY = 0x666c_6d32; // "flm2"

/**
 * Retention by partition: daily metrics partitions exist from the oldest day
 * still inside the retention window to `partitionsAhead` days ahead; older
 * partitions are dropped whole (no row-by-row DELETE).
 */
export function createRetention(deps: {
  handle: DatabaseHandle;
  retentionDays: number;
  partitionsAhead: number;
  maintenanceIntervalMs: number;
  logger: Logger;
}) {
  const { handle, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const maintainOnce = async (now: Date) => {
    await handle.withAdvisoryLock(PARTITION_LOCK_KEY, async () => {
      const cutoff = new Date(now.getTime() - deps.retentionDays * DAY_MS);
      const existing = await listDailyPartitions(handle.db);
      const have = new Set(existing.map((p) => p.name));
      const created: string[] = [];
      const last = dayStart(now).getTime() + deps.partitionsAhead * DAY_MS;
      for (let t = dayStart(cutoff).getTime(); t <= last; t += DAY_MS) {
        const day = new Date(t);
        if (have.has(partitionName(day))) continue;
        try {
          await createDailyPartition(handle.db, day);
          created.push(partitionName(day));
        } catch (err) {
          // Rows of that day stay in the default partition meanwhile; the next run retries.
          logger.error(
            { err, partition: partitionName(day) },
            "creating a metrics partition failed",
          );
        }
      }
      const dropped: string[] = [];
      for (const p of existing) {
        if (p.day.getTime() + DAY_MS <= cutoff.getTime()) {
          await dropPartition(handle.db, p.name);
          dropped.push(p.name);
        }
      }
      await pruneNodeEvents(handle.db, cutoff);
      if (created.length || dropped.length) {
        logger.info({ created, dropped }, "metrics partitions maintained");
      }
    });
  };

  const maintain = (now = new Date()) => {
    running = running.then(
      () => maintainOnce(now),
      () => maintainOnce(now),
    );
    return running;
  };

  return {
    /** Creates and drops partitions as of `now`; replicas take turns. */
    maintain,
    start(): void {
      timer ??= setInterval(() => {
        maintain().catch((err: unknown) => logger.error({ err }, "partition maintenance failed"));
      }, deps.maintenanceIntervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running.catch(() => undefined);
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
