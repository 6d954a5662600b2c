import { Code } from "@connectrpc/connect";
import type { FleetErrorKind } from "../common/errors.js";
import { fleetErrorOf } from "./transport/error-map.js";
import { describeError, errorCode } from "./transport/errors.js";

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
  lastError:
    | { code: string; codeNumber: number; kind: FleetErrorKind; message: string; at: number }
    | undefined;
  heartbeatIntervalMs: number;
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
    lastError: undefined,
    heartbeatIntervalMs,
    tlsCertExpiresAt: 0,
  };
}

/** Records a failed call. */
export function noteError(health: Health, err: unknown): void {
  const code = errorCode(err);
  health.lastError = {
    code: Code[code],
    codeNumber: code,
    kind: fleetErrorOf(err).kind,
    message: describeError(err),
    at: Date.now(),
  };
}
