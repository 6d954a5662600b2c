import type http from "node:http";
import type http2 from "node:http2";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { ConfigError } from "../common/errors.js";
import { createLogger, type Logger } from "../common/logging.js";
import { packageRoot } from "../common/package-root.js";
import { insecureListenerProblem, type ManagerConfig, validationLimits } from "./config.js";
import { type DatabaseHandle, openDatabase } from "./db/client.js";
import { runMigrations } from "./db/migrate.js";
import { waitForDatabase } from "./db/wait-for-database.js";
import { createFastUnaryHandler } from "./grpc-fast/unary-handler.js";
import { callPeerKey } from "./handlers/call-peer.js";
import { createFleetHttpHandler } from "./http/fleet-http.js";
import { guardHttp2Server } from "./http2-guard.js";
import { createRateLimitInterceptor, createShedInterceptor } from "./interceptors/admission.js";
import {
  createAuthInterceptor,
  createHttpTokenGate,
  peerIdentityKey,
} from "./interceptors/auth.js";
import { createErrorInterceptor } from "./interceptors/errors.js";
import { createInputGuardInterceptor } from "./interceptors/input-guard.js";
import {
  answerUnimplemented,
  createNotFoundGoaway,
  grpcSessionKey,
} from "./interceptors/not-found-goaway.js";
import { createObserveInterceptor } from "./interceptors/observe.js";
import { createValidateInterceptor } from "./interceptors/validate.js";
import { createOpsHttpHandler } from "./ops-http.js";
import { fleetRoutes, healthRoutes, managerRoutes, type Services } from "./routes.js";
import { type Admission, createAdmission } from "./services/admission.js";
import { createFleetHistoryService } from "./services/fleet-history.js";
import { createFleetQueryService } from "./services/fleet-query.js";
import { createHeartbeatBatcher, type HeartbeatBatcher } from "./services/heartbeat-batcher.js";
import { createIdentityWatch } from "./services/identity-watch.js";
import { createIngestBatcher, type IngestBatcher } from "./services/ingest-batcher.js";
import { createKnownNodes } from "./services/known-nodes.js";
import { createLeaderLease } from "./services/leader-lease.js";
import { createLiveness, type Liveness, SWEEPER_LEASE } from "./services/liveness.js";
import { createMetricsService } from "./services/metrics.js";
import { createNodeWatchHub, type NodeWatchHub } from "./services/node-watch.js";
import { createNodeService } from "./services/nodes.js";
import { createPacing, type Pacing } from "./services/pacing.js";
import { createRetention, type Retention } from "./services/retention.js";
import { createServingState, type ServingState } from "./services/serving-state.js";
import { createTelemetry, type Telemetry } from "./telemetry.js";
import {
  createGrpcServer,
  createHttpServer,
  loadTlsMaterial,
  peerIdentityOf,
  peerOf,
} from "./tls.js";
import { createTlsReloader, type TlsExpiry, type TlsReloader } from "./tls-reload.js";

export interface Manager {
  /** Opens the database, applies migrations, binds both ports. */
  start(): Promise<{ grpcPort: number; httpPort: number }>;
  /** Stops accepting, finishes in-flight calls, closes the database. */
  stop(): Promise<void>;
  readonly logger: Logger;
  /** Set after start(). */
  readonly database: DatabaseHandle;
  readonly grpcUrl: string;
  readonly httpUrl: string;
  /** The background parts, for tests and operations; set after start(). */
  readonly runtime: ManagerRuntime;
}

export interface ManagerRuntime {
  liveness: Liveness;
  heartbeats: HeartbeatBatcher;
  ingest: IngestBatcher;
  retention: Retention;
  pacing: Pacing;
  telemetry: Telemetry;
  serving: ServingState;
  admission: Admission;
}

export interface CreateManagerOptions {
  logger?: Logger;
  /** How often WatchNodes polls for new node events (default 1000 ms). */
  watchPollIntervalMs?: number;
  /** Longest silence on a WatchNodes stream before a keepalive (default 15 s). */
  watchKeepaliveMs?: number;
  /**
   * Serve ManagerService unary calls on the lean node:http2 path
   * (grpc-fast/, same handlers and interceptors); everything else stays on connect-node.
   * Overrides config `grpc.fast_path` (default on).
   */
  fastUnaryGrpc?: boolean;
  /** The per-node rate limiter's clock, monotonic ms (default the real one); tests move a fake one. */
  rateLimitClock?: () => number;
}

/** Builds a manager from config; main.ts and the tests both use this. */
export function createManager(
  config: Readonly<ManagerConfig>,
  opts: CreateManagerOptions = {},
): Manager {
  const logger = opts.logger ?? createLogger("fleet-manager", config.logLevel);
  let database: DatabaseHandle | undefined;
  let grpcServer: http2.Http2Server | http2.Http2SecureServer | undefined;
  let httpServer: http.Server | https.Server | undefined;
  let watchHub: NodeWatchHub | undefined;
  let runtime: ManagerRuntime | undefined;
  let tlsReloader: TlsReloader | undefined;
  const serving = createServingState();
  const telemetry = createTelemetry();
  const sessions = new Set<http2.ServerHttp2Session>();
  // gRPC calls being answered, so shutdown can wait for the answers rather
  // than for clients to hang up their sessions.
  const active = new Set<http2.Http2ServerResponse>();
  let grpcPort = 0;
  let httpPort = 0;
  let stopping = false;

  const exportTlsExpiry = (expiry: TlsExpiry) => {
    telemetry.tlsExpiry.set({ role: "server" }, expiry.server);
    if (expiry.clientCa !== undefined)
      telemetry.tlsExpiry.set({ role: "client_ca" }, expiry.clientCa);
  };
  // One line at start for a certificate about to lapse, so renewal is not noticed by an outage.
  const warnExpiringSoon = (expiry: TlsExpiry) => {
    const now = Date.now() / 1000;
    for (const [role, at] of [
      ["server certificate (FLEET_TLS_CERT)", expiry.server],
      ["client CA (FLEET_TLS_CLIENT_CA)", expiry.clientCa],
    ] as const) {
      if (at === undefined || at - now > config.tls.expiryWindowSeconds) continue;
      logger.warn(
        { expires: new Date(at * 1000).toISOString(), days: Math.floor((at - now) / 86_400) },
        at <= now ? `${role} has expired` : `${role} expires within tls.expiry_window`,
      );
    }
  };

  const scheme = config.tls.certFile && config.tls.keyFile ? "https" : "http";
  const urlOf = (host: string, port: number) =>
    `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    logger,
    get database() {
      if (!database) throw new Error("manager not started");
      return database;
    },
    get grpcUrl() {
      return urlOf(config.grpcAddr.host, grpcPort);
    },
    get httpUrl() {
      return urlOf(config.httpAddr.host, httpPort);
    },
    get runtime() {
      if (!runtime) throw new Error("manager not started");
      return runtime;
    },

    async start() {
      // Secure by default (DESIGN §3): nothing listens beyond loopback unauthenticated.
      const exposed = insecureListenerProblem(config);
      if (exposed) throw new ConfigError([exposed]);
      const tls = loadTlsMaterial(config);
      database = await openDatabase({
        url: config.databaseUrl,
        dataDir: config.dataDir,
        poolSize: config.databasePoolSize,
      });
      const handle = database;
      logger.info({ db: handle.kind, where: handle.where }, "database opened");
      await waitForDatabase(handle, () => runMigrations(handle), {
        timeoutMs: config.databaseStartTimeoutMs,
        logger,
      });
      const db = handle.db;
      const limits = validationLimits(config);

      const retention = createRetention({
        handle,
        retentionDays: config.retention.days,
        partitionsAhead: config.retention.partitionsAhead,
        maintenanceIntervalMs: config.retention.maintenanceIntervalMs,
        logger,
      });
      // Partitions for the whole retention window exist before the first row arrives.
      await retention.maintain();
      const known = createKnownNodes(db, { ttlMs: config.heartbeat.knownNodeTtlMs });
      const pacing = createPacing({
        minIntervalSeconds: config.heartbeat.minIntervalSeconds,
        defaultIntervalSeconds: config.heartbeatIntervalSeconds,
        maxPerSecond: config.heartbeat.maxPerSecond,
        graceMultiplier: config.liveness.graceMultiplier,
        gracePeriodSeconds: config.liveness.gracePeriodSeconds,
      });
      const identity = createIdentityWatch({
        db,
        logger,
        // Two of the intervals this node is asked for (its own, DESIGN §2), plus a flush.
        windowMs: (nodeId) =>
          2 * 1000 * pacing.intervalFor(known.requestedIntervalSeconds(nodeId)) +
          config.heartbeat.flushIntervalMs,
        holdSeconds: config.identity.conflictHoldSeconds,
        enabled: config.identity.detectConflicts,
      });
      const heartbeats = createHeartbeatBatcher({
        db,
        known,
        flushIntervalMs: config.heartbeat.flushIntervalMs,
        graceRule: () => pacing.graceRule(),
        telemetry,
        logger,
        expiryWindowSeconds: config.tls.expiryWindowSeconds,
        onFlushed: (nodeId, previous, ours) => identity.flushed(nodeId, previous, ours),
      });
      const ingest = createIngestBatcher(
        { db, telemetry, logger, onNodeGone: (id) => known.forget(id) },
        config.ingest,
      );
      const liveness = createLiveness({
        handle,
        pacing,
        telemetry,
        logger,
        options: config.liveness,
        // Renewed every sweep; three missed renewals hand the sweeper to another replica.
        lease: createLeaderLease({
          db,
          name: SWEEPER_LEASE,
          ttlMs: Math.max(3 * config.liveness.sweepIntervalMs, 5000),
          logger,
        }),
        flushHeartbeats: () => heartbeats.flush(),
        restartPushbackMs: config.admission.pushbackMinMs + config.admission.pushbackSpreadMs,
      });
      const admission = createAdmission(config.admission, opts.rateLimitClock);
      runtime = { liveness, heartbeats, ingest, retention, pacing, telemetry, serving, admission };

      const notFoundGoaway = createNotFoundGoaway({
        after: config.grpcGoawayAfterNotFound,
        logger,
      });
      const services: Services = {
        goaway: notFoundGoaway,
        nodes: createNodeService(db, { known, heartbeats, identity }),
        metrics: createMetricsService({ known, batcher: ingest, limits }),
        pacing,
        fleet: createFleetQueryService(db, { known }),
        history: createFleetHistoryService(db),
        watch: createNodeWatchHub(db, {
          pollIntervalMs: opts.watchPollIntervalMs ?? 1000,
          ...(opts.watchKeepaliveMs ? { keepaliveMs: opts.watchKeepaliveMs } : {}),
        }),
      };
      watchHub = services.watch;
      const fleetHttp = createFleetHttpHandler({
        fleet: services.fleet,
        webRoot: join(packageRoot(), "dist", "web"),
        logger,
      });
      // Outermost first: count every RPC with its final code, shed beyond the
      // in-flight cap, map errors, authenticate, validate, then rate-limit per node.
      const interceptors = [
        createObserveInterceptor(telemetry),
        createShedInterceptor(admission),
        createErrorInterceptor(logger, notFoundGoaway.onError),
        createAuthInterceptor({
          apiToken: config.auth.apiToken,
          enrollToken: config.auth.enrollToken,
          bindNodeIdentity: config.auth.bindNodeIdentity && tls?.clientCa !== undefined,
          logger,
        }),
        createInputGuardInterceptor(),
        createValidateInterceptor(limits),
        createRateLimitInterceptor(admission),
      ];
      const contextValues = (req: Parameters<typeof peerIdentityOf>[0]) =>
        createContextValues()
          .set(peerIdentityKey, peerIdentityOf(req))
          .set(
            grpcSessionKey,
            "stream" in req ? (req.stream?.session as http2.ServerHttp2Session) : undefined,
          )
          .set(callPeerKey, peerOf(req));
      const tokenGate = createHttpTokenGate(config.auth.apiToken);
      const ops = createOpsHttpHandler({ handle: () => database, serving, telemetry, logger });

      // One contract on every path (grpc-fast/ matches these): gzip only, the
      // same size and deadline limits.
      const sharedProtocolOptions = {
        readMaxBytes: limits.requestMaxBytes,
        maxTimeoutMs: config.maxTimeoutMs,
        acceptCompression: [compressionGzip],
      };
      const connectGrpcHandler = connectNodeAdapter({
        routes: (router: ConnectRouter) => {
          managerRoutes(services)(router);
          fleetRoutes(services)(router);
          healthRoutes(serving)(router);
        },
        interceptors,
        contextValues,
        ...sharedProtocolOptions,
        grpc: true,
        grpcWeb: false,
        connect: false,
        // Unknown methods: gRPC UNIMPLEMENTED, not HTTP 404 (also for the fast path's fallback).
        fallback: answerUnimplemented,
      });
      // connect-node does not announce what it accepts; the fast path does (gRPC
      // spec), so both say it on every answer.
      const connectGrpc: typeof connectGrpcHandler = (req, res) => {
        res.setHeader("grpc-accept-encoding", "gzip");
        connectGrpcHandler(req, res);
      };
      const grpcHandler =
        (opts.fastUnaryGrpc ?? config.grpcFastPath)
          ? createFastUnaryHandler({
              routes: managerRoutes(services),
              interceptors,
              contextValues,
              readMaxBytes: limits.requestMaxBytes,
              maxTimeoutMs: config.maxTimeoutMs,
              logger,
              fallback: connectGrpc,
            })
          : connectGrpc;
      const httpHandler = connectNodeAdapter({
        routes: fleetRoutes(services),
        interceptors,
        ...sharedProtocolOptions,
        grpc: false,
        grpcWeb: false,
        connect: true,
        fallback: (req, res) => {
          // /healthz, /readyz, /metrics first, then the dashboard and /metrics/fleet;
          // the token gate answers 401 for /metrics* without the API token.
          if (!tokenGate(req, res) && !ops(req, res) && !fleetHttp(req, res)) {
            res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
            res.end("not found\n");
          }
        },
      });

      // Oversized header blocks are refused before anything reads them (http2-guard.ts).
      let admitHeaders: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean =
        () => true;
      grpcServer = createGrpcServer(config, tls, (req, res) => {
        if (!admitHeaders(req, res)) return;
        active.add(res);
        res.once("close", () => active.delete(res));
        grpcHandler(req, res);
      });
      grpcServer.on("session", (session) => {
        sessions.add(session);
        session.once("close", () => sessions.delete(session));
      });
      admitHeaders = guardHttp2Server(grpcServer, {
        idleMs: config.admission.idleTimeoutMs,
        firstRequestMs: config.admission.firstRequestTimeoutMs,
        maxHeaderListSize: config.admission.maxHeaderListSize,
        logger,
        onClose: (reason) => telemetry.http2Closed.inc({ reason }),
      });
      httpServer = createHttpServer(config, tls, (req, res) => {
        // A keep-alive connection would carry a client's reconnect (fleetctl
        // watch, the dashboard) into a closing server; during shutdown each
        // answer is the connection's last.
        if (stopping) res.setHeader("connection", "close");
        httpHandler(req, res);
      });
      grpcPort = await listen(grpcServer, config.grpcAddr, "grpc.addr (FLEET_GRPC_ADDR)");
      httpPort = await listen(httpServer, config.httpAddr, "http.addr (FLEET_HTTP_ADDR)");
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
        warnExpiringSoon(tlsReloader.expiry);
      }
      heartbeats.start();
      retention.start();
      await liveness.start();
      serving.set(true);
      logger.info({ grpc: this.grpcUrl, http: this.httpUrl }, "manager listening");
      return { grpcPort, httpPort };
    },

    async stop() {
      // Nothing opened (refused at start, e.g. a locked data directory): the caller's one line says why.
      if (!database && !grpcServer && !httpServer) return;
      tlsReloader?.close();
      tlsReloader = undefined;
      // Health checks and /readyz report NOT_SERVING first, so balancers move away.
      serving.set(false);
      // Open WatchNodes streams would otherwise keep the HTTP server from closing.
      stopping = true;
      watchHub?.close();
      const closing = Promise.all([closeServer(grpcServer), closeServer(httpServer)]);
      // close() drops only the connections idle at that moment; one whose
      // WatchNodes stream just ended goes idle a moment later and would be kept
      // until the keep-alive timeout (or, with a client reconnecting, forever).
      const closingHttp = httpServer;
      const idleSweep = setInterval(() => closingHttp?.closeIdleConnections(), 50);
      // GOAWAY lets in-flight streams finish while refusing new ones; without it
      // a daemon's idle keepalive session would hold the server open forever.
      for (const session of sessions) session.close();
      // A call is answered once its response has ended; one refused before its
      // request was read (over readMaxBytes) never emits "close", so poll.
      const callsDone = (async () => {
        while ([...active].some((r) => !r.writableEnded)) {
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const deadline = new Promise<boolean>((r) =>
        setTimeout(() => r(true), config.shutdown.timeoutMs).unref(),
      );
      if (await Promise.race([callsDone.then(() => false), deadline])) {
        logger.warn(
          { inFlight: active.size, timeoutMs: config.shutdown.timeoutMs },
          "gRPC calls outlived the shutdown timeout",
        );
      }
      // Every call is answered; sessions a client keeps open (or half-sent) go now.
      for (const session of sessions) session.destroy();
      if (await Promise.race([closing.then(() => false), deadline])) {
        logger.warn(
          { timeoutMs: config.shutdown.timeoutMs },
          "HTTP requests outlived the shutdown timeout",
        );
        httpServer?.closeAllConnections();
      }
      await closing;
      clearInterval(idleSweep);
      stopping = false;
      grpcServer = undefined;
      httpServer = undefined;
      if (runtime) {
        // Every acknowledged request is committed by now; write what is still queued.
        await runtime.ingest.drain();
        await runtime.liveness.stop();
        await runtime.retention.stop();
        await runtime.heartbeats.stop();
      }
      if (database) await database.close();
      database = undefined;
      logger.info("manager stopped");
    },
  };
}

/** Listens; a port in use or not ours to bind is a ConfigError naming the key. */
function listen(
  server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer,
  addr: { host: string; port: number },
  key: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
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

/** Stops accepting and waits for in-flight requests; idle sessions are closed. */
function closeServer(
  server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer | undefined,
): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  });
}
