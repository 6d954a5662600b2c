import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  type Interceptor,
} from "@connectrpc/connect";

/** When the whole call must be over (Unix ms); Infinity when no deadline interceptor runs. */
export const CALL_DEADLINE = createContextKey<number>(Number.POSITIVE_INFINITY, {
  description: "fleet call deadline (Unix ms)",
});

/** Time left of the call's deadline, in ms (Infinity without one). */
export const timeLeftMs = (contextValues: ContextValues, now = Date.now()) =>
  contextValues.get(CALL_DEADLINE) - now;

/**
 * Per-call deadline (`manager.timeout`, DESIGN §3): the whole call, all retry
 * attempts included, ends by then. It sits outside the retry interceptor and
 * aborts the call locally when the deadline passes; each attempt is bounded by
 * the time left and tells the server so in `grpc-timeout` (see
 * createAttemptTimeoutInterceptor).
 */
export function createDeadlineInterceptor(timeoutMs: number): Interceptor {
  return (next) => async (req) => {
    const timer = new AbortController();
    const reason = new ConnectError(`deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded);
    const deadline = Date.now() + timeoutMs;
    const t = setTimeout(() => timer.abort(reason), timeoutMs);
    if (!Number.isFinite(req.contextValues.get(CALL_DEADLINE)))
      req.contextValues.set(CALL_DEADLINE, deadline);
    req.header.set("grpc-timeout", `${Math.max(1, Math.ceil(timeoutMs))}m`);
    const signal = AbortSignal.any([req.signal, timer.signal]);
    try {
      return await next({ ...req, signal });
    } catch (err) {
      if (timer.signal.aborted && !req.signal.aborted) throw reason;
      throw err;
    } finally {
      clearTimeout(t);
    }
  };
}

/**
 * Innermost: an attempt gets only what is left of the call's deadline, and
 * says so in `grpc-timeout`, so the server gives up when the client has.
 */
export function createAttemptTimeoutInterceptor(): Interceptor {
  return (next) => async (req) => {
    const left = timeLeftMs(req.contextValues);
    if (!Number.isFinite(left)) return next(req);
    if (left <= 0)
      throw new ConnectError("deadline exceeded before the attempt", Code.DeadlineExceeded);
    req.header.set("grpc-timeout", `${Math.max(1, Math.ceil(left))}m`);
    return next(req);
  };
}
