import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { Health } from "./health.js";
import type { SpoolStats } from "./spool/spool.js";

export interface DaemonStatus {
  node_id: string;
  pid: number;
  started_at: string;
  registered: boolean;
  last_contact_at: string | null;
  last_report_at: string | null;
  heartbeat_interval_seconds: number;
  spool: {
    batches: number;
    bytes: number;
    oldest_timestamp: string | null;
    dropped_batches: number;
    dropped_samples: number;
    dropped_range: { from: string; to: string } | null;
  };
  /** Collector rounds that could not run on schedule (each also logged with its time range). */
  ticks_missed: number;
  /** Rounds run late by a stalled timer, caught up with one reading for several seconds. */
  ticks_late: number;
  clock_steps: number;
  retries: number;
  batches_sent: number;
  /** `kind` is the shared error taxonomy's (src/common/errors.ts), the same the manager uses. */
  last_error: { code: string; kind: string; message: string; at: string } | null;
  updated_at: string;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

/** The status document operators read (`work_dir/status.json`, `fleet-daemon status`). */
export function buildStatus(health: Health, spool: SpoolStats): DaemonStatus {
  return {
    node_id: health.nodeId,
    pid: process.pid,
    started_at: new Date(health.startedAt).toISOString(),
    registered: health.registered,
    last_contact_at: iso(health.lastContactAt),
    last_report_at: iso(health.lastReportAt),
    heartbeat_interval_seconds: health.heartbeatIntervalMs / 1000,
    spool: {
      batches: spool.batches,
      bytes: spool.bytes,
      oldest_timestamp: iso(spool.oldestTimestamp * 1000),
      dropped_batches: spool.droppedBatches,
      dropped_samples: spool.droppedSamples,
      dropped_range:
        spool.droppedBatches > 0
          ? {
              from: new Date(spool.droppedFrom * 1000).toISOString(),
              to: new Date(spool.droppedTo * 1000).toISOString(),
            }
          : null,
    },
    ticks_missed: health.ticksMissed,
    ticks_late: health.ticksLate,
    clock_steps: health.clockSteps,
    retries: health.retries,
    batches_sent: health.batchesSent,
    last_error: health.lastError
      ? {
          code: health.lastError.code,
          kind: health.lastError.kind,
          message: health.lastError.message,
          at: iso(health.lastError.at) ?? "",
        }
      : null,
    updated_at: new Date().toISOString(),
  };
}

export const statusPath = (workDir: string) => join(workDir, "status.json");

/** Writes status.json atomically (temp file, then rename). */
export async function writeStatus(workDir: string, status: DaemonStatus): Promise<void> {
  const file = statusPath(workDir);
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(`${JSON.stringify(status, null, 2)}\n`);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

export async function readStatus(workDir: string): Promise<DaemonStatus> {
  return JSON.parse(await readFile(statusPath(workDir), "utf8")) as DaemonStatus;
}

/** `fleet-daemon status`: a few readable lines, then the document itself. */
export function formatStatus(s: DaemonStatus, now = Date.now()): string {
  const ago = (t: string | null) =>
    t ? `${t} (${Math.round((now - Date.parse(t)) / 1000)} s ago)` : "never";
  const lines = [
    `node_id:        ${s.node_id} (pid ${s.pid}, started ${s.started_at})`,
    `registered:     ${s.registered ? "yes" : "no"}`,
    `last contact:   ${ago(s.last_contact_at)}`,
    `last report:    ${ago(s.last_report_at)}`,
    `spool:          ${s.spool.batches} batches, ${s.spool.bytes} bytes, oldest ${s.spool.oldest_timestamp ?? "-"}`,
    `dropped:        ${s.spool.dropped_batches} batches${s.spool.dropped_range ? ` covering ${s.spool.dropped_range.from} .. ${s.spool.dropped_range.to}` : ""}`,
    `ticks missed:   ${s.ticks_missed ?? 0} (late: ${s.ticks_late ?? 0}${s.clock_steps ? `, clock steps seen: ${s.clock_steps}` : ""})`,
    `retries:        ${s.retries}`,
    `last error:     ${s.last_error ? `${s.last_error.code} at ${s.last_error.at}: ${s.last_error.message}` : "none"}`,
    `status updated: ${ago(s.updated_at)}`,
  ];
  return `${lines.join("\n")}\n`;
}
