import type { ConnectRouter } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { ConfigError } from "../common/errors.js";
import { createLogger, type Logger } from "../common/logging.js";
import { insecureListenerProblem, type ManagerConfig } from "./config.js";
import type { DatabaseHandle } from "./db/client.js";
import { asStoreUnavailable } from "./db/store-errors.js";
import { createHttpRouter } from "./http/router.js";
import { callContextValues, createInterceptorChain } from "./interceptors/chain.js";
import { answerUnimplemented } from "./interceptors/not-found-goaway.js";
import { createListeners, type ListenerHandlers, type Listeners } from "./listeners.js";
import { fleetRoutes, healthRoutes, managerRoutes } from "./routes.js";
import { createRuntime, type ManagerRuntime, type Runtime } from "./runtime.js";
import { createServingState } from "./services/serving-state.js";
import { createTelemetry, type Telemetry } from "./telemetry.js";
import { loadTlsMaterial, type TlsMaterial } from "./tls.js";

export type { ManagerRuntime } from "./runtime.js";

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

export interface CreateManagerOptions {
  logger?: Logger;
  /** How often WatchNodes polls for new node events (default 1000 ms). */
  watchPollIntervalMs?: number;
  /** Longest silence on a WatchNodes stream before a keepalive (default 15 s). */
  watchKeepaliveMs?: number;
  /**
   * Serve ManagerService unary calls on the fast path (fast-path/: raw
   * node:http2 streams, same handlers and interceptors); everything else
   * stays on connect-node. Overrides config `grpc.fast_path` (default on).
   */
  fastPath?: boolean;
  /** The per-node rate limiter's clock, monotonic ms (default the real one); tests move a fake one. */
  rateLimitClock?: () => number;
}

/**
 * Builds a manager from config; main.ts and the tests both use this. It only
 * composes: runtime.ts (database and services), interceptors/chain.ts (every
 * RPC's layers), the Connect adapters and http/router.ts (what each port
 * serves), listeners.ts (the ports and their drain).
 */
export function createManager(
  config: Readonly<ManagerConfig>,
  opts: CreateManagerOptions = {},
): Manager {
  const logger = opts.logger ?? createLogger("fleet-manager", config.logLevel);
  const serving = createServingState();
  const telemetry = createTelemetry();
  let runtime: Runtime | undefined;
  let listeners: Listeners | undefined;
  let grpcPort = 0;
  let httpPort = 0;

  const scheme = config.tls.certFile && config.tls.keyFile ? "https" : "http";
  const urlOf = (host: string, port: number) =>
    `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    logger,
    get database() {
      if (!runtime) throw new Error("manager not started");
      return runtime.database;
    },
    get grpcUrl() {
      return urlOf(config.grpcAddr.host, grpcPort);
    },
    get httpUrl() {
      return urlOf(config.httpAddr.host, httpPort);
    },
    get runtime() {
      if (!runtime) throw new Error("manager not started");
      return runtime.background;
    },

    async start() {
      // Secure by default (DESIGN §3): nothing listens beyond loopback unauthenticated.
      const exposed = insecureListenerProblem(config);
      if (exposed) throw new ConfigError([exposed]);
      const tls = loadTlsMaterial(config);
      const rt = await createRuntime(config, {
        logger,
        telemetry,
        serving,
        watchPollIntervalMs: opts.watchPollIntervalMs,
        watchKeepaliveMs: opts.watchKeepaliveMs,
        rateLimitClock: opts.rateLimitClock,
      });
      runtime = rt;
      listeners = createListeners(config, tls, {
        handlers: portHandlers(
          { config, opts, rt, tls, telemetry, logger },
          () => runtime?.database,
        ),
        telemetry,
        logger,
      });
      ({ grpcPort, httpPort } = await listeners.listen());
      await rt.start();
      serving.set(true);
      logger.info({ grpc: this.grpcUrl, http: this.httpUrl }, "manager listening");
      return { grpcPort, httpPort };
    },

    async stop() {
      // Nothing opened (refused at start, e.g. a locked data directory): the caller's one line says why.
      if (!runtime && !listeners) return;
      // Health checks and /readyz report NOT_SERVING first, so balancers move away.
      serving.set(false);
      // Open WatchNodes streams would otherwise keep the servers from closing.
      runtime?.closeStreams();
      await listeners?.drain();
      listeners = undefined;
      await runtime?.stop();
      runtime = undefined;
      logger.info("manager stopped");
    },
  };
}

/** What each port serves: the Connect adapters (and the fast path) behind one interceptor chain. */
function portHandlers(
  parts: {
    config: Readonly<ManagerConfig>;
    opts: CreateManagerOptions;
    rt: Runtime;
    tls: TlsMaterial | undefined;
    telemetry: Telemetry;
    logger: Logger;
  },
  /** The database while the manager runs (for /readyz). */
  handle: () => DatabaseHandle | undefined,
): ListenerHandlers {
  const { config, opts, rt, tls, telemetry, logger } = parts;
  const { services, limits } = rt;
  const interceptors = createInterceptorChain({
    telemetry,
    admission: rt.admission,
    goaway: rt.goaway,
    limits,
    auth: {
      apiToken: config.auth.apiToken,
      enrollToken: config.auth.enrollToken,
      bindNodeIdentity: config.auth.bindNodeIdentity && tls?.clientCa !== undefined,
    },
    domainErrorOf: asStoreUnavailable,
    logger,
  });
  // One contract on every path (fast-path/ matches these): gzip only, the
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
      healthRoutes(rt.background.serving)(router);
    },
    interceptors,
    contextValues: callContextValues,
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
  // ManagerService unary calls from the raw `stream` event (listeners.ts
  // attaches it); every other stream reaches connectGrpc.
  const fastPath =
    (opts.fastPath ?? config.grpcFastPath)
      ? {
          routes: managerRoutes(services),
          interceptors,
          contextValues: callContextValues,
          readMaxBytes: limits.requestMaxBytes,
          maxTimeoutMs: config.maxTimeoutMs,
          logger,
        }
      : undefined;
  const http = connectNodeAdapter({
    routes: fleetRoutes(services),
    interceptors,
    ...sharedProtocolOptions,
    grpc: false,
    grpcWeb: false,
    connect: true,
    fallback: createHttpRouter({
      apiToken: config.auth.apiToken,
      handle,
      serving: rt.background.serving,
      telemetry,
      fleet: services.fleet,
      logger,
    }),
  });
  return { grpc: connectGrpc, fastPath, http };
}
