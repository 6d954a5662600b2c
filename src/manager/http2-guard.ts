import http2 from "node:http2";
import type { Logger } from "../common/logging.js";

/** Client-reset streams one session may have per window before it is cut (rapid reset). */
export const MAX_RESETS_PER_WINDOW = 500;
const RESET_WINDOW_MS = 10_000;
/** Oversized header blocks one session may send before it is cut. */
export const MAX_OVERSIZED_HEADERS = 10;
/** How long a session told to go away (GOAWAY) may finish its streams before it is destroyed. */
const CLOSE_GRACE_MS = 5_000;

export type GuardReason = "idle" | "no_request" | "rapid_reset" | "oversized_headers";

interface SessionState {
  readonly session: http2.ServerHttp2Session;
  resets: number;
  windowStart: number;
  oversized: number;
  /** Responses of this session; one not ended yet means the manager is still working on it. */
  responses: Set<Tracked>;
}

/** A response being written: the compatibility response, or a fast-path stream itself. */
export interface Tracked {
  readonly writableEnded: boolean;
  once(event: "close", listener: () => void): unknown;
}

const kState = Symbol("guardSessionState");
type GuardedStream = http2.ServerHttp2Stream & { [kState]: SessionState };
function untrackStream(this: GuardedStream) {
  this[kState].responses.delete(this);
}

/** True while the manager itself still works on a response of `responses` (not the client's fault). */
export const stillWorking = (responses: Iterable<{ writableEnded: boolean }>) => {
  for (const r of responses) if (!r.writableEnded) return true;
  return false;
};

/**
 * Bounds what one HTTP/2 connection can cost the gRPC port, for what
 * Node/nghttp2 leave open:
 * - a session with no request within `firstRequestMs` (idle connection
 *   floods; a daemon connects to make a call) is closed;
 * - a session with no frames in or out for `idleMs` is closed (GOAWAY, then
 *   destroyed after a grace), which also ends a client that never reads its
 *   responses and a session nghttp2 stopped reading after its own rapid-reset
 *   GOAWAY (it does not close the socket itself);
 * - more than MAX_RESETS_PER_WINDOW client-reset streams in 10 s (rapid reset,
 *   CVE-2023-44487) destroy the session with ENHANCE_YOUR_CALM;
 * - a header block over `maxHeaderListSize` is refused (nghttp2 only
 *   announces SETTINGS_MAX_HEADER_LIST_SIZE, it does not enforce it), and
 *   after MAX_OVERSIZED_HEADERS of them the session goes.
 * Returns the per-request check, to run before the request is handled
 * (`.stream` for a raw stream the fast path serves).
 */
export function guardHttp2Server(
  server: http2.Http2Server | http2.Http2SecureServer,
  opts: {
    idleMs: number;
    firstRequestMs: number;
    maxHeaderListSize: number;
    logger: Logger;
    onClose?: (reason: GuardReason) => void;
  },
): ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean) & {
  stream: (stream: http2.ServerHttp2Stream, rawHeaders: string[]) => boolean;
} {
  const states = new WeakMap<http2.ServerHttp2Session, SessionState>();
  const cut = (session: http2.ServerHttp2Session, reason: GuardReason, hard: boolean) => {
    if (session.destroyed) return;
    opts.onClose?.(reason);
    opts.logger.debug({ reason, peer: session.socket?.remoteAddress }, "closing HTTP/2 session");
    if (hard) {
      session.destroy(undefined, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    if (!session.closed) session.close();
    setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
  };

  if (opts.idleMs > 0) {
    server.setTimeout(opts.idleMs);
    // With a listener Node leaves the session open: we close it (GOAWAY first),
    // unless a slow call of ours is why nothing moved; then we look again later.
    server.on("timeout", (session: http2.ServerHttp2Session) => {
      const state = states.get(session);
      if (state && stillWorking(state.responses)) session.setTimeout(opts.idleMs);
      else cut(session, "idle", false);
    });
  }
  server.on("session", (session) => {
    const state: SessionState = {
      session,
      resets: 0,
      windowStart: Date.now(),
      oversized: 0,
      responses: new Set(),
    };
    states.set(session, state);
    if (opts.firstRequestMs > 0) {
      const timer = setTimeout(() => cut(session, "no_request", false), opts.firstRequestMs);
      timer.unref();
      session.once("stream", () => clearTimeout(timer));
      session.once("close", () => clearTimeout(timer));
    }
    session.on("stream", (stream: GuardedStream) => {
      // Shared listeners that find the session's state on the stream: no
      // closures per stream. 'aborted' is emitted at most once per stream.
      stream[kState] = state;
      stream.on("aborted", onAborted);
    });
  });
  function onAborted(this: GuardedStream) {
    const state = this[kState];
    const now = Date.now();
    if (now - state.windowStart > RESET_WINDOW_MS) {
      state.windowStart = now;
      state.resets = 0;
    }
    if (++state.resets > MAX_RESETS_PER_WINDOW) cut(state.session, "rapid_reset", true);
  }

  // The stream and its raw headers, so the fast path (raw streams) and the
  // compatibility handler (req/res) share one check; `tracked` is what answers.
  const admit = (stream: http2.ServerHttp2Stream, raw: string[], tracked: Tracked): boolean => {
    // RFC 9113 §6.5.2: name + value + 32 octets per field.
    let size = 0;
    for (let i = 0; i < raw.length; i += 2) {
      size += (raw[i] as string).length + (raw[i + 1] as string).length + 32;
    }
    const session = stream.session as http2.ServerHttp2Session | undefined;
    const state = session ? states.get(session) : undefined;
    if (size <= opts.maxHeaderListSize) {
      if (state) {
        state.responses.add(tracked);
        // A fast-path stream answers itself: one shared listener (close is emitted once).
        // (The session's 'stream' listener, which also sets kState, runs after this one.)
        if (tracked === stream) {
          (stream as GuardedStream)[kState] = state;
          stream.on("close", untrackStream);
        } else tracked.once("close", () => state.responses.delete(tracked));
      }
      return true;
    }
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    if (session && state && ++state.oversized > MAX_OVERSIZED_HEADERS) {
      cut(session, "oversized_headers", true);
    }
    return false;
  };
  return Object.assign(
    (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
      admit(req.stream, req.rawHeaders, res),
    { stream: (stream: http2.ServerHttp2Stream, raw: string[]) => admit(stream, raw, stream) },
  );
}
