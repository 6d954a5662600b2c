import type http from "node:http";
import type http2 from "node:http2";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../common/errors.js";
import type { Logger } from "../common/logging.js";
import type { ManagerConfig } from "./config.js";
import { attachFastPath, type FastPathOptions } from "./fast-path/serve.js";
import { guardHttp2Server } from "./http2-guard.js";
import type { Telemetry } from "./telemetry.js";
import { createGrpcServer, createHttpServer, type TlsMaterial } from "./tls.js";
import { createTlsReloader, type TlsExpiry, type TlsReloader } from "./tls-reload.js";

type AnyServer = http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer;

export interface ListenerHandlers {
  /** Everything on the gRPC port the fast path does not take (after the header-size guard). */
  grpc: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
  /** ManagerService unary calls from the raw `stream` event (fast-path/); undefined = off. */
  fastPath?: Omit<FastPathOptions, "admit">;
  /** Everything on the HTTP port. */
  http: http.RequestListener;
}

export interface Listeners {
  /** Binds both ports (a port in use is a ConfigError naming the key) and starts watching the certificate files. */
  listen(): Promise<{ grpcPort: number; httpPort: number }>;
  /**
   * Stops accepting, lets in-flight calls finish within shutdown.timeout, then
   * closes every connection. Callers first end the streams that would never
   * finish by themselves (WatchNodes).
   */
  drain(): Promise<void>;
}

/** The two ports, their connections and their graceful end. */
export function createListeners(
  config: Readonly<ManagerConfig>,
  tls: TlsMaterial | undefined,
  deps: { handlers: ListenerHandlers; telemetry: Telemetry; logger: Logger },
): Listeners {
  const { telemetry, logger } = deps;
  const sessions = new Set<http2.ServerHttp2Session>();
  // gRPC calls by stream (whichever path answers them), so shutdown waits for
  // the answers rather than for clients to hang up their sessions.
  const calls = new Set<http2.ServerHttp2Stream>();
  let stopping = false;
  let tlsReloader: TlsReloader | undefined;

  // Oversized header blocks are refused before anything reads them (http2-guard.ts).
  let admitHeaders: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean =
    () => true;
  const grpcServer = createGrpcServer(config, tls, (req, res) => {
    if (admitHeaders(req, res)) deps.handlers.grpc(req, res);
  });
  grpcServer.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const guard = guardHttp2Server(grpcServer, {
    idleMs: config.admission.idleTimeoutMs,
    firstRequestMs: config.admission.firstRequestTimeoutMs,
    maxHeaderListSize: config.admission.maxHeaderListSize,
    logger,
    onClose: (reason) => telemetry.http2Closed.inc({ reason }),
  });
  admitHeaders = guard;
  // Before any other 'stream' listener: the fast path takes node's one
  // compatibility listener off and calls it for the streams it does not serve.
  if (deps.handlers.fastPath) {
    attachFastPath(grpcServer, { ...deps.handlers.fastPath, admit: guard.stream });
  }
  // One shared listener ('close' is emitted once per stream): no closure per call.
  function untrackCall(this: http2.ServerHttp2Stream) {
    calls.delete(this);
  }
  grpcServer.on("stream", (stream) => {
    calls.add(stream);
    stream.on("close", untrackCall);
  });
  const httpServer = createHttpServer(config, tls, (req, res) => {
    if (stopping) {
      // A keep-alive connection would carry a client's reconnect (fleetctl
      // watch, the dashboard) into a closing server; during shutdown each
      // answer is the connection's last.
      res.setHeader("connection", "close");
    }
    // close() drops only the connections idle at that moment; one whose answer
    // (a WatchNodes stream ended by the shutdown) finishes later is dropped
    // when it goes idle, not kept until the keep-alive timeout.
    res.once("close", () => {
      if (stopping) httpServer.closeIdleConnections();
    });
    deps.handlers.http(req, res);
  });

  const exportTlsExpiry = (expiry: TlsExpiry) => {
    telemetry.tlsExpiry.set({ role: "server" }, expiry.server);
    if (expiry.clientCa !== undefined)
      telemetry.tlsExpiry.set({ role: "client_ca" }, expiry.clientCa);
  };

  return {
    async listen() {
      const grpcPort = await listen(grpcServer, config.grpcAddr, "grpc.addr (FLEET_GRPC_ADDR)");
      const httpPort = await listen(httpServer, config.httpAddr, "http.addr (FLEET_HTTP_ADDR)");
      if (tls) {
        tlsReloader = createTlsReloader({
          config,
          initial: tls,
          grpcServer: grpcServer as http2.Http2SecureServer,
          httpServer: httpServer as https.Server,
          intervalMs: config.tls.reloadIntervalMs,
          logger,
          onChange: (expiry) => {
            telemetry.tlsReloads.inc({ result: "ok" });
            exportTlsExpiry(expiry);
          },
          onRefused: () => telemetry.tlsReloads.inc({ result: "refused" }),
        });
        exportTlsExpiry(tlsReloader.expiry);
        warnExpiringSoon(tlsReloader.expiry, config.tls.expiryWindowSeconds, logger);
      }
      return { grpcPort, httpPort };
    },

    async drain() {
      tlsReloader?.close();
      tlsReloader = undefined;
      stopping = true;
      const timeoutMs = config.shutdown.timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      // One deadline for the whole drain: calls first, then the HTTP requests.
      const deadline = new Promise<true>((r) => {
        timer = setTimeout(() => r(true), timeoutMs).unref();
      });
      const closing = Promise.all([closeServer(grpcServer), closeServer(httpServer)]);
      // GOAWAY lets in-flight streams finish while refusing new ones; without it
      // a daemon's idle keepalive session would hold the server open forever.
      for (const session of sessions) session.close();
      const inFlight = [...calls].filter((s) => !answered(s));
      const callsDone = Promise.all(inFlight.map(whenAnswered));
      if (await Promise.race([callsDone.then(() => false), deadline])) {
        logger.warn(
          { inFlight: inFlight.filter((s) => !answered(s)).length, timeoutMs },
          "gRPC calls outlived the shutdown timeout",
        );
      }
      // Every call is answered; sessions a client keeps open (or half-sent) go now.
      for (const session of sessions) session.destroy();
      if (await Promise.race([closing.then(() => false), deadline])) {
        logger.warn({ timeoutMs }, "HTTP requests outlived the shutdown timeout");
        httpServer.closeAllConnections();
      }
      await closing;
      clearTimeout(timer);
      stopping = false;
    },
  };
}

/**
 * A call is answered once its stream closed (its last frame went out). One
 * refused before its request was read (over readMaxBytes) never closes while
 * the client keeps sending: for it, a finished writable side is the answer.
 */
const answered = (s: http2.ServerHttp2Stream) =>
  s.destroyed || s.closed || (s.writableFinished && !s.readableEnded);

const whenAnswered = (s: http2.ServerHttp2Stream) =>
  new Promise<void>((resolve) => {
    s.once("close", resolve);
    s.once("finish", () => {
      if (answered(s)) resolve();
    });
  });

/** One line at start for a certificate about to lapse, so renewal is not noticed by an outage. */
function warnExpiringSoon(expiry: TlsExpiry, windowSeconds: number, logger: Logger): void {
  const now = Date.now() / 1000;
  for (const [role, at] of [
    ["server certificate (FLEET_TLS_CERT)", expiry.server],
    ["client CA (FLEET_TLS_CLIENT_CA)", expiry.clientCa],
  ] as const) {
    if (at === undefined || at - now > windowSeconds) continue;
    logger.warn(
      { expires: new Date(at * 1000).toISOString(), days: Math.floor((at - now) / 86_400) },
      at <= now ? `${role} has expired` : `${role} expires within tls.expiry_window`,
    );
  }
}

/** Listens; a port in use or not ours to bind is a ConfigError naming the key. */
function listen(server: AnyServer, addr: { host: string; port: number }, key: string) {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        EADDRINUSE: "the address is already in use",
        EACCES: "permission denied (ports below 1024 need privileges)",
        EADDRNOTAVAIL: "no local interface has that address",
      };
      const reason = err.code ? why[err.code] : undefined;
      reject(reason ? new ConfigError([`${key} ${addr.host}:${addr.port}: ${reason}`]) : err);
    };
    server.once("error", onError);
    server.listen(addr.port, addr.host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting and resolves once every connection is gone; idle ones are closed now. */
function closeServer(server: AnyServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  });
}
