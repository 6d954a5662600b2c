import type { Logger } from "../../common/logging.js";
import { type Health, noteError } from "../health.js";
import type { LimitedLog } from "../log-limit.js";
import type { Spool, SpoolBatch } from "../spool/spool.js";
import type { ManagerClient } from "../transport/client.js";
import { describeError, policyFor } from "../transport/errors.js";
import type { Contact } from "./contact.js";
import type { Registration } from "./register.js";
import { reconnectDelayMs, sleep } from "./timing.js";

/** One ReportMetrics call carries at most this much (manager limits are larger). */
export const REPORT_LIMITS = { maxSamples: 1000, maxBatches: 64 };

export type SendOutcome = "empty" | "sent" | "failed" | "reregister";

export interface Reporter {
  /** Picks the next batches from the spool and sends them in one call. */
  sendOnce(signal: AbortSignal): Promise<SendOutcome>;
  /** Sends until the spool is empty, a call fails, or the signal aborts. */
  drain(signal: AbortSignal): Promise<SendOutcome>;
}

export interface ReporterOptions {
  client: ManagerClient;
  nodeId: string;
  spool: Spool;
  health: Health;
  logger: Logger;
  log: LimitedLog;
  /** Told of every call the manager answered OK. */
  contact?: Contact;
}

/** Sends spooled batches; a batch leaves the spool only once the manager answered OK. */
export function createReporter(o: ReporterOptions): Reporter {
  const send = async (batches: SpoolBatch[], signal: AbortSignal): Promise<SendOutcome> => {
    const seqs = batches.map((b) => b.seq);
    try {
      o.logger.debug({ seqs }, "reporting");
      const res = await o.client.reportMetrics(
        {
          nodeId: o.nodeId,
          metrics: batches.flatMap((b) =>
            b.samples.map((s) => ({
              type: s.type,
              timestamp: BigInt(s.timestamp),
              values: s.values,
              labels: s.labels,
            })),
          ),
        },
        { signal },
      );
      o.contact?.reached();
      await o.spool.ack(seqs);
      const samples = batches.reduce((n, b) => n + b.samples.length, 0);
      o.health.lastContactAt = o.health.lastReportAt = Date.now();
      o.health.batchesSent += batches.length;
      o.health.samplesSent += samples;
      o.logger.debug({ seqs, samples, accepted: res.accepted }, "reported");
      if (res.rejected > 0) {
        // Partial success: the manager stored the valid rest; the rejected entries are malformed.
        o.log(
          "warn",
          "rejected",
          { rejected: res.rejected },
          `manager rejected entries: ${res.message}`,
        );
      }
      return "sent";
    } catch (err) {
      o.spool.release(seqs);
      if (signal.aborted) return "failed";
      noteError(o.health, err);
      const policy = policyFor(err);
      switch (policy.reaction) {
        case "reregister":
          o.logger.warn(
            { seqs },
            "manager does not know this node (NOT_FOUND); registering again, batches kept",
          );
          return "reregister";
        case "drop":
          if (batches.length > 1) {
            // One malformed batch must not take the others down: retry them one by one.
            for (const b of batches) {
              const r = await send([b], signal);
              if (r !== "sent") return r;
            }
            return "sent";
          }
          o.logger.error(
            { seqs, err: describeError(err) },
            "manager refused a batch as malformed; dropped",
          );
          await o.spool.drop(seqs, describeError(err));
          return "sent";
        default:
          o.log(
            policy.loud ? "error" : "warn",
            "report",
            { code: policy.kind, backlog: o.spool.stats().batches },
            `report failed, batches kept in the spool: ${describeError(err)}`,
          );
          return "failed";
      }
    }
  };
  const sendOnce = async (signal: AbortSignal): Promise<SendOutcome> => {
    const batches = await o.spool.pick(REPORT_LIMITS);
    if (batches.length === 0) return "empty";
    return send(batches, signal);
  };
  return {
    sendOnce,
    async drain(signal) {
      for (;;) {
        const r = await sendOnce(signal);
        if (r !== "sent" || signal.aborted) return r;
      }
    },
  };
}

export interface ReportLoopOptions {
  reporter: Reporter;
  spool: Spool;
  registration: Registration;
  /** Stops the loop between calls. */
  signal: AbortSignal;
  /** Aborts a call in flight (later than `signal`, at the end of the shutdown flush). */
  callSignal: AbortSignal;
  reconnectIntervalMs: number;
  /** Wait after new data so the collectors of one tick share a call. */
  lingerMs: number;
  /** Rate-limited log for failures outside a call (spool I/O errors). */
  log?: LimitedLog;
  random?: () => number;
  /** Shared with the other loops: a success anywhere (a heartbeat) ends this backoff. */
  contact?: Contact;
}

/**
 * Sends whatever the spool holds, half of each call fresh and half backlog, so
 * a long outage drains without starving fresh data. After a failure it backs
 * off with jitter (the interceptor has already retried within the call) until
 * any loop reaches the manager again: the first heartbeat that gets through
 * after an outage restarts reporting at once, not after the backoff's cap.
 */
export async function runReportLoop(o: ReportLoopOptions): Promise<void> {
  let failures = 0;
  while (!o.signal.aborted) {
    let r: SendOutcome;
    const since = o.contact?.generation ?? 0;
    try {
      await o.spool.waitForData(o.signal);
      if (o.signal.aborted) break;
      if (failures === 0) await sleep(o.lingerMs, o.signal);
      if (o.signal.aborted || !(await o.registration.ensure())) break;
      r = await o.reporter.drain(o.callSignal);
    } catch (err) {
      // A spool I/O error (EIO, EMFILE…) must not kill the daemon without its shutdown
      // flush: the batches stay on disk, and the loop backs off and tries again.
      o.log?.(
        "error",
        "report-loop",
        { err: (err as Error).message, code: (err as NodeJS.ErrnoException).code },
        "report loop failed (spool I/O?); batches kept, retrying after a backoff",
      );
      r = "failed";
    }
    if (r === "reregister") {
      o.registration.invalidate();
      continue;
    }
    if (r === "failed") {
      failures++;
      const delay = reconnectDelayMs(failures, o.reconnectIntervalMs, o.random);
      if (!o.contact) await sleep(delay, o.signal);
      else if (await o.contact.backoff(delay, since, o.signal)) failures = 0;
    } else failures = 0;
  }
}
