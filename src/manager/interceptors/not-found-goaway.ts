import type { ServerHttp2Session } from "node:http2";
import {
  Code,
  type ConnectError,
  type ContextValues,
  createContextKey,
  type StreamRequest,
  type UnaryRequest,
} from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import type { Logger } from "../../common/logging.js";
import { encodeGrpcMessage } from "../fast-path/protocol.js";

/** The HTTP/2 connection a gRPC call came on (undefined on the HTTP port). */
export const grpcSessionKey = createContextKey<ServerHttp2Session | undefined>(undefined, {
  description: "HTTP/2 session of the call",
});

/**
 * Daemons of the existing Go system register only when they (re)connect and
 * never after NOT_FOUND (DESIGN §2). So after `after` NOT_FOUND answers on one
 * connection since it last registered, the connection is closed gracefully
 * (GOAWAY: calls in flight finish, new ones go to a new connection), and the
 * daemon reconnects and registers by itself. Fed by the error interceptor, so
 * a call that succeeds costs nothing here.
 */
export function createNotFoundGoaway(opts: { after: number; logger: Logger }) {
  const counts = new WeakMap<ServerHttp2Session, number>();
  return {
    /** A ManagerService call failed with `err` (after error mapping). */
    onError(req: UnaryRequest | StreamRequest, err: ConnectError): void {
      if (opts.after <= 0 || err.code !== Code.NotFound) return;
      if (req.service.typeName !== ManagerService.typeName) return;
      const session = req.contextValues.get(grpcSessionKey);
      if (!session || session.closed || session.destroyed) return;
      const n = (counts.get(session) ?? 0) + 1;
      counts.set(session, n);
      if (n < opts.after) return;
      counts.delete(session);
      opts.logger.info(
        { notFound: n, remote: session.socket?.remoteAddress },
        "closing a connection whose calls keep getting NOT_FOUND (GOAWAY), so its daemon reconnects and registers",
      );
      session.close();
    },
    /** The connection registered a node: its count starts again. */
    registered(values: ContextValues): void {
      const session = values.get(grpcSessionKey);
      if (session) counts.delete(session);
    },
  };
}

export type NotFoundGoaway = ReturnType<typeof createNotFoundGoaway>;

type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

/**
 * gRPC port: a method the manager does not serve (daemons of the existing
 * system also call `/proto.DaemonService/*`) gets gRPC UNIMPLEMENTED, HTTP 200
 * with `grpc-status: 12` in one HEADERS frame (trailers-only), not an HTTP 404.
 */
export const answerUnimplemented: NodeHandlerFn = (req, res) => {
  const path = (req.url ?? "").split("?")[0] ?? "";
  const headers = {
    "content-type": "application/grpc",
    "grpc-status": String(Code.Unimplemented),
    "grpc-message": encodeGrpcMessage(`method not implemented by this manager: ${path}`),
  };
  // The request body (if any) is not wanted.
  if (!req.readableEnded) req.resume();
  if (!("stream" in res)) {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  const stream = res.stream;
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ":status": 200, ...headers }, { endStream: true });
};
