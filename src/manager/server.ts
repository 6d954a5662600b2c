import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import { createLogger, type Logger } from "../common/logging.js";
import { packageRoot } from "../common/package-root.js";
import type { ManagerConfig } from "./config.js";
import { type DatabaseHandle, openDatabase } from "./db/client.js";
import { runMigrations } from "./db/migrate.js";
import { createFleetHttpHandler } from "./http/fleet-http.js";
import { createErrorInterceptor } from "./interceptors/errors.js";
import { fleetRoutes, managerRoutes, type Services } from "./routes.js";
import { createFleetQueryService } from "./services/fleet-query.js";
import { createMetricsService } from "./services/metrics.js";
import { createNodeWatchHub, type NodeWatchHub } from "./services/node-watch.js";
import { createNodeService } from "./services/nodes.js";

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
}

export interface CreateManagerOptions {
  logger?: Logger;
  /** How often WatchNodes polls for new node events (default 1000 ms). */
  watchPollIntervalMs?: number;
}

/** Builds a manager from config; main.ts and the tests both use this. */
export function createManager(
  config: Readonly<ManagerConfig>,
  opts: CreateManagerOptions = {},
): Manager {
  const logger = opts.logger ?? createLogger("fleet-manager", config.logLevel);
  let database: DatabaseHandle | undefined;
  let grpcServer: http2.Http2Server | undefined;
  let httpServer: http.Server | undefined;
  let watchHub: NodeWatchHub | undefined;
  const sessions = new Set<http2.ServerHttp2Session>();
  let grpcPort = 0;
  let httpPort = 0;

  const urlOf = (host: string, port: number) =>
    `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

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

    async start() {
      database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
      logger.info({ db: database.kind, where: database.where }, "database opened");
      await runMigrations(database);
      const db = database.db;

      const services: Services = {
        nodes: createNodeService(db),
        metrics: createMetricsService(db),
        pacing: { heartbeatIntervalSeconds: () => config.heartbeatIntervalSeconds },
        fleet: createFleetQueryService(db),
        watch: createNodeWatchHub(db, { pollIntervalMs: opts.watchPollIntervalMs ?? 1000 }),
      };
      watchHub = services.watch;
      const fleetHttp = createFleetHttpHandler({
        fleet: services.fleet,
        webRoot: join(packageRoot(), "dist", "web"),
        logger,
      });
      const interceptors = [createErrorInterceptor(logger)];

      const grpcHandler = connectNodeAdapter({
        routes: (router: ConnectRouter) => {
          managerRoutes(services)(router);
          fleetRoutes(services)(router);
        },
        interceptors,
        grpc: true,
        grpcWeb: false,
        connect: false,
      });
      const healthDb = db;
      const httpHandler = connectNodeAdapter({
        routes: fleetRoutes(services),
        interceptors,
        grpc: false,
        grpcWeb: false,
        connect: true,
        fallback: (req, res) => {
          const path = (req.url ?? "/").split("?")[0];
          const reply = (status: number, body: string) => {
            res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
            res.end(body);
          };
          if (path === "/healthz") {
            reply(200, "ok\n");
          } else if (path === "/readyz") {
            healthDb
              .execute(sql`select 1`)
              .then(() => reply(200, "ready\n"))
              .catch((err: unknown) => {
                logger.warn({ err }, "readiness check failed");
                reply(503, "database unreachable\n");
              });
          } else if (!fleetHttp(req, res)) {
            reply(404, "not found\n");
          }
        },
      });

      grpcServer = http2.createServer({}, grpcHandler);
      grpcServer.on("session", (session) => {
        sessions.add(session);
        session.once("close", () => sessions.delete(session));
      });
      httpServer = http.createServer(httpHandler);
      grpcPort = await listen(grpcServer, config.grpcAddr.host, config.grpcAddr.port);
      httpPort = await listen(httpServer, config.httpAddr.host, config.httpAddr.port);
      logger.info({ grpc: this.grpcUrl, http: this.httpUrl }, "manager listening");
      return { grpcPort, httpPort };
    },

    async stop() {
      // Open WatchNodes streams would otherwise keep the HTTP server from closing.
      watchHub?.close();
      const closing = Promise.all([closeServer(grpcServer), closeServer(httpServer)]);
      // GOAWAY lets in-flight streams finish while refusing new ones; without it
      // a daemon's idle keepalive session would hold the server open forever.
      for (const session of sessions) session.close();
      await closing;
      grpcServer = undefined;
      httpServer = undefined;
      if (database) await database.close();
      database = undefined;
      logger.info("manager stopped");
    },
  };
}

function listen(
  server: http.Server | http2.Http2Server,
  host: string,
  port: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting and waits for in-flight requests; idle sessions are closed. */
function closeServer(server: http.Server | http2.Http2Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ("closeIdleConnections" in server) server.closeIdleConnections();
  });
}
