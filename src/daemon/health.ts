import { Code } from "@connectrpc/connect";
import type { FleetErrorKind } from "../common/errors.js";
import { describeError, errorCode, toFleetError } from "./transport/errors.js";

/** What the daemon knows about its own condition; feeds status.json and the `daemon` metric. */
export interface Health {
  readonly nodeId: string;
  readonly startedAt: number;
  registered: boolean;
  /** Unix ms of the last successful call of any kind. */
  lastContactAt: number;
  lastReportAt: number;
  retries: number;
  batchesSent: number;
  samplesSent: number;
  /** Collector rounds the schedule could not run (timer too late, collector stuck, clock stepped back). */
  ticksMissed: number;
  /** Collector rounds run late (a stalled timer), by one reading that stands for several seconds. */
  ticksLate: number;
  /** Steps of the system clock seen (samples keep monotonic time across them). */
  clockSteps: number;
  lastError:
    | { code: string; codeNumber: number; kind: FleetErrorKind; message: string; at: number }
    | undefined;
  /** The interval in use: max(manager.heartbeat_interval, what the manager asked for). */
  heartbeatIntervalMs: number;
  /** manager.heartbeat_interval, as configured. */
  readonly configuredHeartbeatIntervalMs: number;
  /** The client certificate's notAfter (Unix seconds), 0 without TLS. */
  tlsCertExpiresAt: number;
}

export function createHealth(nodeId: string, heartbeatIntervalMs: number): Health {
  return {
    nodeId,
    startedAt: Date.now(),
    registered: false,
    lastContactAt: 0,
    lastReportAt: 0,
    retries: 0,
    batchesSent: 0,
    samplesSent: 0,
    ticksMissed: 0,
    ticksLate: 0,
    clockSteps: 0,
    lastError: undefined,
    heartbeatIntervalMs,
    configuredHeartbeatIntervalMs: heartbeatIntervalMs,
    tlsCertExpiresAt: 0,
  };
}

/**
 * The manager's `heartbeat_interval_seconds` (DESIGN §2): the configured
 * interval is honoured unless the manager asks for a longer one to protect
 * itself; 0 (an old manager that sends none) keeps the configured one.
 */
export function applyAnnouncedInterval(health: Health, announcedSeconds: number): void {
  health.heartbeatIntervalMs = Math.max(
    health.configuredHeartbeatIntervalMs,
    announcedSeconds > 0 ? announcedSeconds * 1000 : 0,
  );
}

/** Records a failed call. */
export function noteError(health: Health, err: unknown): void {
  const code = errorCode(err);
  health.lastError = {
    code: Code[code],
    codeNumber: code,
    kind: toFleetError(err).kind,
    message: describeError(err),
    at: Date.now(),
  };
}
