import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Per-attempt deadline (`manager.timeout`): sends `grpc-timeout` so the server
 * knows, and aborts the attempt locally when it passes. It sits inside the
 * retry interceptor, so every attempt gets the full timeout.
 */
export function createDeadlineInterceptor(timeoutMs: number): Interceptor {
  return (next) => async (req) => {
    const timer = new AbortController();
    const reason = new ConnectError(`deadline of ${timeoutMs} ms exceeded`, Code.DeadlineExceeded);
    const t = setTimeout(() => timer.abort(reason), timeoutMs);
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
