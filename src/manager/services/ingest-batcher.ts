import { NodeNotFoundError, OverloadedError, StoreUnavailableError } from "../../common/errors.js";
import type { Logger } from "../../common/logging.js";
import type { MetricSample } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { insertMetricBatch } from "../db/queries/metrics.js";
import { storeUnavailableCode } from "../db/store-errors.js";
import type { Telemetry } from "../telemetry.js";

interface Job {
  nodeId: string;
  samples: readonly MetricSample[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface IngestBatcherOptions {
  batchWindowMs: number;
  maxBatchRows: number;
  maxConcurrentBatches: number;
  maxPendingRows: number;
}

/**
 * Group commit: ReportMetrics requests that arrive within `batchWindowMs` (or
 * while earlier statements run) are written by one INSERT; each request is
 * answered once that statement has committed. A failing statement fails only
 * the requests in it, with UNAVAILABLE, so their daemons retry.
 */
export function createIngestBatcher(
  deps: {
    db: Database;
    telemetry: Telemetry;
    logger: Logger;
    /** A request's node turned out deleted (the known-node cache should forget it). */
    onNodeGone?: (nodeId: string) => void;
  },
  opts: IngestBatcherOptions,
) {
  const queue: Job[] = [];
  let queuedRows = 0;
  let running = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const idle: (() => void)[] = [];

  const take = (): Job[] => {
    const batch: Job[] = [];
    let rows = 0;
    while (queue.length > 0) {
      const next = queue[0] as Job;
      if (batch.length > 0 && rows + next.samples.length > opts.maxBatchRows) break;
      queue.shift();
      batch.push(next);
      rows += next.samples.length;
    }
    queuedRows -= rows;
    return batch;
  };

  // A deadlock or serialization failure is the database asking to try again.
  const insertWithRetry = async (batch: Job[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await insertMetricBatch(deps.db, batch);
      } catch (err) {
        const code = storeUnavailableCode(err);
        if (attempt >= 3 || (code !== "40P01" && code !== "40001")) throw err;
        deps.logger.warn({ code, attempt }, "metrics batch conflicted; retrying");
      }
    }
  };

  const commit = async (batch: Job[]) => {
    const rows = batch.reduce((n, j) => n + j.samples.length, 0);
    const started = performance.now();
    try {
      const { stored, missingNodes } = await insertWithRetry(batch);
      const missing = new Set(missingNodes);
      const orphaned = batch.reduce(
        (n, j) => n + (missing.has(j.nodeId) ? j.samples.length : 0),
        0,
      );
      deps.telemetry.ingestCommitSeconds.observe((performance.now() - started) / 1000);
      deps.telemetry.ingestBatchRows.observe(rows);
      deps.telemetry.ingestBatchRequests.observe(batch.length);
      deps.telemetry.ingestRows.inc({ outcome: "stored" }, stored);
      deps.telemetry.ingestRows.inc({ outcome: "duplicate" }, rows - stored - orphaned);
      deps.telemetry.ingestRows.inc({ outcome: "rejected" }, orphaned);
      for (const j of batch) {
        // Deleted behind the known-node cache: the daemon registers again and resends.
        if (missing.has(j.nodeId)) {
          deps.onNodeGone?.(j.nodeId);
          j.reject(new NodeNotFoundError(j.nodeId));
        } else j.resolve();
      }
    } catch (err) {
      deps.telemetry.ingestRows.inc({ outcome: "failed" }, rows);
      deps.logger.error({ err, rows, requests: batch.length }, "metrics batch failed to commit");
      // The driver's own message, not the wrapper's (which quotes the statement and its data).
      const failure = new StoreUnavailableError(
        `metrics: could not store ${rows} rows (batch of ${batch.length} requests): ${rootMessage(err)}`,
        err,
      );
      for (const j of batch) j.reject(failure);
    }
  };

  // Set when the batch window has passed (or a commit finished) with work queued.
  let due = false;
  const pump = () => {
    while (running < opts.maxConcurrentBatches && queue.length > 0) {
      // Wait for company unless a full batch is queued, the window passed, or we drain.
      if (!due && !closed && opts.batchWindowMs > 0 && queuedRows < opts.maxBatchRows) {
        timer ??= setTimeout(() => {
          timer = undefined;
          due = true;
          pump();
        }, opts.batchWindowMs);
        return;
      }
      const batch = take();
      if (queue.length === 0) due = false;
      running++;
      void commit(batch).finally(() => {
        running--;
        // Whatever queued up behind this statement has waited long enough.
        if (queue.length > 0) due = true;
        pump();
      });
    }
    if (running === 0 && queue.length === 0) {
      if (closed && timer) clearTimeout(timer);
      for (const done of idle.splice(0)) done();
    }
  };

  return {
    /** Resolves once the samples are committed (or were already stored). */
    submit(nodeId: string, samples: readonly MetricSample[]): Promise<void> {
      if (samples.length === 0) return Promise.resolve();
      if (closed) return Promise.reject(new OverloadedError("manager is shutting down"));
      if (queuedRows + samples.length > opts.maxPendingRows) {
        return Promise.reject(
          new OverloadedError(
            `metrics: ${queuedRows} rows already waiting to be stored (limit ${opts.maxPendingRows}); retry later`,
          ),
        );
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ nodeId, samples, resolve, reject });
        queuedRows += samples.length;
        pump();
      });
    },
    /** Refuses new work and resolves when everything accepted so far is committed. */
    drain(): Promise<void> {
      closed = true;
      return new Promise<void>((resolve) => {
        idle.push(resolve);
        pump();
      });
    },
    get queuedRows(): number {
      return queuedRows;
    },
  };
}

export type IngestBatcher = ReturnType<typeof createIngestBatcher>;

/** The innermost error's message: what the database said. */
function rootMessage(err: unknown): string {
  let e = err;
  for (let depth = 0; e instanceof Error && e.cause instanceof Error && depth < 5; depth++) {
    e = e.cause;
  }
  return e instanceof Error ? e.message : String(e);
}
