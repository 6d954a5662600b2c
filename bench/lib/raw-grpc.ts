import http2 from "node:http2";
import { firstGrpcMessage } from "../../src/common/grpc-frame.js";

export interface RawCallResult {
  /** gRPC status code; -1 when the stream failed before a status arrived. */
  status: number;
  message: string;
  /** The first response message (unframed), empty if none. */
  body: Buffer;
  latencyMs: number;
}

/**
 * A lean unary gRPC client on node:http2: a few sessions used round-robin, no
 * per-call allocation beyond the stream. Built for load generation, where the
 * Connect client would cost more CPU than the server it measures.
 */
export function createRawGrpcClient(baseUrl: string, sessions = 4) {
  const pool: http2.ClientHttp2Session[] = [];
  let next = 0;
  const open = () => {
    const s = http2.connect(baseUrl, { settings: { initialWindowSize: 4 * 1024 * 1024 } });
    s.on("error", () => {});
    s.unref();
    return s;
  };
  for (let i = 0; i < sessions; i++) pool.push(open());
  const session = () => {
    const i = next++ % pool.length;
    let s = pool[i] as http2.ClientHttp2Session;
    if (s.closed || s.destroyed) {
      s = open();
      pool[i] = s;
    }
    return s;
  };

  return {
    /** One unary call; never rejects, failures come back as a status. */
    call(path: string, frame: Buffer, timeoutMs = 30_000): Promise<RawCallResult> {
      const t0 = performance.now();
      return new Promise((resolve) => {
        let status = -1;
        let message = "";
        const chunks: Buffer[] = [];
        const readStatus = (h: http2.IncomingHttpHeaders) => {
          const s = h["grpc-status"];
          if (s !== undefined) {
            status = Number(s);
            message = decodeURIComponent(String(h["grpc-message"] ?? ""));
          }
        };
        let stream: http2.ClientHttp2Stream;
        try {
          stream = session().request({
            ":method": "POST",
            ":path": path,
            "content-type": "application/grpc",
            te: "trailers",
            "grpc-timeout": `${timeoutMs}m`,
          });
        } catch (err) {
          resolve({ status: -1, message: String(err), body: Buffer.alloc(0), latencyMs: 0 });
          return;
        }
        stream.on("response", readStatus);
        stream.on("trailers", readStatus);
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("error", (err) => {
          if (status === -1) message = err.message;
        });
        stream.on("close", () => {
          const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          resolve({
            status,
            message,
            body: firstGrpcMessage(all),
            latencyMs: performance.now() - t0,
          });
        });
        stream.end(frame);
      });
    },
    close(): void {
      for (const s of pool) s.close();
    },
  };
}

export type RawGrpcClient = ReturnType<typeof createRawGrpcClient>;
