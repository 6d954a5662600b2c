import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Whether the manager answers, from every call the page makes (and the event
 * stream). Unreachable since the last answer: the page says so and freezes
 * what it shows instead of presenting old data as live.
 */
export interface Reachability {
  reachable: boolean;
  /** Milliseconds since the epoch of the last answer from the manager. */
  lastContactMs: number;
}

const state: Reachability = { reachable: true, lastContactMs: Date.now() };
const listeners = new Set<(s: Reachability) => void>();

/** Follows reachability changes; returns the unsubscribe function. */
export function onReachability(fn: (s: Reachability) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function reachability(): Readonly<Reachability> {
  return state;
}

/** The manager answered (any status it sent itself counts). */
export function markContact(): void {
  state.lastContactMs = Date.now();
  if (state.reachable) return;
  state.reachable = true;
  for (const fn of listeners) fn(state);
}

/** A call failed without an answer from the manager. */
export function markUnreachable(): void {
  if (!state.reachable) return;
  state.reachable = false;
  for (const fn of listeners) fn(state);
}

/** Failures that mean "no answer": network errors (Unknown in connect-web), 502/503/504. */
export function isUnreachable(err: unknown): boolean {
  const e = ConnectError.from(err);
  if (e.code === Code.Canceled) return false;
  return e.code === Code.Unknown || e.code === Code.Unavailable || e.code === Code.DeadlineExceeded
    ? !/database|store|shutting down/i.test(e.rawMessage)
    : false;
}

/** Records the outcome of every unary call. */
export const reachabilityInterceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    markContact();
    return res;
  } catch (err) {
    if (isUnreachable(err)) markUnreachable();
    else markContact();
    throw err;
  }
};
