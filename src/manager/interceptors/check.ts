import type { Interceptor, StreamRequest, UnaryRequest } from "@connectrpc/connect";

/**
 * An interceptor that only checks a request, then passes it on. Not async: a
 * pass-through layer on the hot path adds no promise of its own; a check that
 * throws becomes a rejected promise, as an async interceptor's would.
 */
export function checkingInterceptor(
  check: (req: UnaryRequest | StreamRequest) => void,
): Interceptor {
  return (next) => (req) => {
    try {
      check(req);
    } catch (err) {
      return Promise.reject(err);
    }
    return next(req);
  };
}
