import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Telemetry } from "../telemetry.js";

/** Counts RPCs and their duration by method and status code (outermost interceptor). */
export function createObserveInterceptor(telemetry: Telemetry): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    let counted = false;
    const done = (code: string) => {
      if (counted) return;
      counted = true;
      telemetry.rpcRequests.inc({ method, code });
      telemetry.rpcDuration.observe({ method, code }, (performance.now() - started) / 1000);
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done("OK");
        return res;
      }
      // A stream (WatchNodes, Health.Watch) is counted when it ends, with how it
      // ended; a client that goes away may leave it unread, so its abort counts too.
      const inner = res.message;
      req.signal.addEventListener("abort", () => done("Canceled"), { once: true });
      async function* observed() {
        try {
          yield* inner;
          done(req.signal.aborted ? "Canceled" : "OK");
        } catch (err) {
          done(Code[ConnectError.from(err).code] ?? "Unknown");
          throw err;
        }
      }
      return { ...res, message: observed() };
    } catch (err) {
      done(Code[ConnectError.from(err).code] ?? "Unknown");
      throw err;
    }
  };
}
