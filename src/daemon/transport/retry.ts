import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";
import { type Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { timeLeftMs } from "./deadline.js";
import { isRetryableInCall } from "./errors.js";

export interface RetryOptions {
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No new attempt starts after this much time since the first one. */
  maxElapsedMs: number;
  isRetryable?: (code: Code) => boolean;
  onRetry?: (info: { attempt: number; code: Code; delayMs: number; pushback: boolean }) => void;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxElapsedMs: 30_000,
};

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^(attempt−1))]. */
export function backoffDelayMs(
  attempt: number,
  base: number,
  max: number,
  random: () => number = Math.random,
): number {
  return random() * Math.min(max, base * 2 ** (attempt - 1));
}

/**
 * The server's requested delay: the `grpc-retry-pushback-ms` trailer (gRPC A6;
 * negative means "do not retry") or a google.rpc.RetryInfo detail. Undefined
 * when the server said nothing.
 */
export function serverPushbackMs(err: ConnectError): number | "stop" | undefined {
  const header = err.metadata.get("grpc-retry-pushback-ms");
  if (header !== null) {
    const n = Number(header.trim());
    if (!/^-?\d+$/.test(header.trim()) || n < 0) return "stop";
    return n;
  }
  for (const d of err.details) {
    if ("type" in d && d.type === "google.rpc.RetryInfo" && "value" in d) {
      const ms = decodeRetryInfoMs(d.value);
      if (ms !== undefined) return ms;
    }
  }
  return undefined;
}

/**
 * google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } in ms.
 * protobuf-es reads the wire format and the Duration; undefined when malformed
 * (the server's problem: our own backoff applies) or without a delay.
 */
export function decodeRetryInfoMs(bytes: Uint8Array): number | undefined {
  try {
    const reader = new BinaryReader(bytes);
    let delay: Duration | undefined;
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.LengthDelimited)
        delay = fromBinary(DurationSchema, reader.bytes());
      else reader.skip(wireType, field);
    }
    return delay && Number(delay.seconds) * 1000 + Math.floor(delay.nanos / 1e6);
  } catch {
    return undefined;
  }
}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/**
 * Retries unary calls that failed with a retryable code (DESIGN §1.2), with
 * exponential backoff and full jitter, bounded in attempts and elapsed time,
 * and within the call's deadline (the deadline interceptor sits outside it).
 * Server pushback wins over our own backoff. Streaming calls pass through.
 */
export function createRetryInterceptor(options: Partial<RetryOptions> = {}): Interceptor {
  const o = { ...DEFAULT_RETRY, ...options };
  const retryable = o.isRetryable ?? isRetryableInCall;
  const random = o.random ?? Math.random;
  const sleep = o.sleep ?? abortableSleep;
  const now = o.now ?? Date.now;
  return (next) => async (req) => {
    if (req.stream) return next(req);
    const started = now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        const ce = ConnectError.from(err);
        if (attempt >= o.maxAttempts || req.signal.aborted || !retryable(ce.code)) throw err;
        const pushback = serverPushbackMs(ce);
        if (pushback === "stop") throw err;
        const delayMs = pushback ?? backoffDelayMs(attempt, o.baseDelayMs, o.maxDelayMs, random);
        if (now() - started + delayMs > o.maxElapsedMs) throw err;
        // The call's deadline (manager.timeout) covers every attempt: no retry that could not start in time.
        if (delayMs >= timeLeftMs(req.contextValues)) throw err;
        o.onRetry?.({ attempt, code: ce.code, delayMs, pushback: pushback !== undefined });
        await sleep(delayMs, req.signal);
      }
    }
  };
}
