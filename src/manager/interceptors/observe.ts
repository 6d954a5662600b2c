import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
} from "@connectrpc/connect";
import type { Telemetry } from "../telemetry.js";

interface RpcLabels {
  readonly method: string;
  readonly code: string;
}

/** Counts RPCs and their duration by method and status code (outermost interceptor). */
export function createObserveInterceptor(telemetry: Telemetry): Interceptor {
  // One frozen label set per method and code, built once: a call allocates none.
  const labelSets = new Map<DescMethod, Map<string, RpcLabels>>();
  const labelsOf = (req: UnaryRequest | StreamRequest, code: string): RpcLabels => {
    let byCode = labelSets.get(req.method);
    if (!byCode) {
      byCode = new Map();
      labelSets.set(req.method, byCode);
    }
    let labels = byCode.get(code);
    if (!labels) {
      labels = Object.freeze({ method: `${req.service.typeName}/${req.method.name}`, code });
      byCode.set(code, labels);
    }
    return labels;
  };
  const record = (req: UnaryRequest | StreamRequest, code: string, started: number): void => {
    const labels = labelsOf(req, code);
    telemetry.rpcRequests.inc(labels);
    telemetry.rpcDuration.observe(labels, (performance.now() - started) / 1000);
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
