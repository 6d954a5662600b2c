import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
} from "@connectrpc/connect";
import type { RpcSeries } from "../rpc-metrics.js";
import type { Telemetry } from "../telemetry.js";

/** Counts RPCs and their duration by method and status code (outermost interceptor). */
export function createObserveInterceptor(telemetry: Telemetry): Interceptor {
  // One series per method and code, looked up by method object: a call allocates none.
  const seriesByMethod = new Map<DescMethod, Map<string, RpcSeries>>();
  const seriesOf = (req: UnaryRequest | StreamRequest, code: string): RpcSeries => {
    let byCode = seriesByMethod.get(req.method);
    if (!byCode) {
      byCode = new Map();
      seriesByMethod.set(req.method, byCode);
    }
    let series = byCode.get(code);
    if (!series) {
      series = telemetry.rpc.series(`${req.service.typeName}/${req.method.name}`, code);
      byCode.set(code, series);
    }
    return series;
  };
  const record = (req: UnaryRequest | StreamRequest, code: string, started: number): void => {
    seriesOf(req, code).observe((performance.now() - started) / 1000);
  };
  return (next) => async (req) => {
    const started = performance.now();
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      record(req, codeOf(err), started);
      throw err;
    }
    if (!res.stream) {
      record(req, "OK", started);
      return res;
    }
    return observeStream(req, res, (code) => record(req, code, started));
  };
}

const codeOf = (err: unknown): string => Code[ConnectError.from(err).code] ?? "Unknown";

/**
 * A stream (WatchNodes, Health.Watch) is counted when it ends, with how it
 * ended; a client that goes away may leave it unread, so its abort counts too.
 */
function observeStream(
  req: UnaryRequest | StreamRequest,
  res: StreamResponse,
  count: (code: string) => void,
): StreamResponse {
  let counted = false;
  const done = (code: string) => {
    if (counted) return;
    counted = true;
    count(code);
  };
  const inner = res.message;
  req.signal.addEventListener("abort", () => done("Canceled"), { once: true });
  async function* observed() {
    try {
      yield* inner;
      done(req.signal.aborted ? "Canceled" : "OK");
    } catch (err) {
      done(codeOf(err));
      throw err;
    }
  }
  return { ...res, message: observed() };
}
