import http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { GRPC_PATHS, startTestManager } from "../helpers/manager.js";

const READ_MAX = 64 * 1024;
const SHUTDOWN_TIMEOUT_MS = 20_000;

/**
 * listeners.ts waits for gRPC answers by event, not by polling: a call counts
 * as answered once its stream's writable side finished, even when the client
 * never finishes sending (the stream stays half-open and never closes).
 */
describe.each(GRPC_PATHS)("shutdown drain ($path)", ({ grpcFastPath }) => {
  it("does not wait out shutdown.timeout for a call refused before its request was read", async () => {
    const manager = await startTestManager({
      grpcFastPath,
      limits: { ...MANAGER_DEFAULTS.limits, requestMaxBytes: READ_MAX },
      shutdown: { timeoutMs: SHUTDOWN_TIMEOUT_MS },
    });
    const session = http2.connect(manager.grpcUrl);
    session.on("error", () => {});
    try {
      const stream = openReportMetrics(session);
      // An envelope announcing more than readMaxBytes; the body is never finished.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(READ_MAX * 4, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(1024)]));
      const status = await new Promise<string | undefined>((resolve, reject) => {
        let seen: string | undefined;
        const take = (h: http2.IncomingHttpHeaders) => {
          seen ??= h["grpc-status"] as string | undefined;
          if (seen !== undefined) resolve(seen);
        };
        stream.on("response", take);
        stream.on("trailers", take);
        stream.on("error", reject);
      });
      // RESOURCE_EXHAUSTED: answered while the client is still "sending".
      expect(status).toBe("8");
      expect(stream.writableEnded).toBe(false);

      const started = performance.now();
      await manager.stop();
      const tookMs = performance.now() - started;
      // The answered call does not hold the drain until the timeout.
      expect(tookMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 4);
    } finally {
      session.destroy();
    }
    // Starting an embedded database is slow on a loaded machine; the bound that matters is above.
  }, 120_000);
});

function openReportMetrics(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  const stream = session.request({
    ":method": "POST",
    ":path": "/manager.ManagerService/ReportMetrics",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  return stream;
}
