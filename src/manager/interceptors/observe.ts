import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Telemetry } from "../telemetry.js";

/** Counts RPCs and their latency by method and status code (outermost interceptor). */
export function createObserveInterceptor(telemetry: Telemetry): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    const done = (code: string) => {
      telemetry.rpcRequests.inc({ method, code });
      telemetry.rpcDuration.observe({ method, code }, (performance.now() - started) / 1000);
    };
    try {
      const res = await next(req);
      done("OK");
      return res;
    } catch (err) {
      done(Code[ConnectError.from(err).code] ?? "Unknown");
      throw err;
    }
  };
}
