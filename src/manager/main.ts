#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { ConfigError } from "../common/errors.js";
import { createLogger, type Logger } from "../common/logging.js";
import { runMain } from "../common/run-main.js";
import { runCertsCommand } from "./certs.js";
import { isClusterPrimary, joinCluster, leaveCluster, runClusterPrimary } from "./cluster.js";
import { loadManagerConfig } from "./config.js";
import { openDatabase } from "./db/client.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { runMigrations } from "./db/migrate.js";
import { DatabaseUnreachableError } from "./db/wait-for-database.js";
import { createManager } from "./server.js";

const USAGE = `usage: fleet-manager [serve|migrate] [--config manager.yaml] [--insecure]
       fleet-manager certs --out DIR --nodes a,b,... [--hosts localhost,127.0.0.1,...]

  serve     run the manager (default)
  migrate   apply database migrations and exit
  certs     write a CA, a server certificate and one client certificate per node (openssl)

Environment: DATABASE_URL, FLEET_DATA_DIR, FLEET_GRPC_ADDR, FLEET_HTTP_ADDR,
FLEET_TLS_CERT, FLEET_TLS_KEY, FLEET_TLS_CLIENT_CA, FLEET_API_TOKEN,
FLEET_ENROLL_TOKEN, FLEET_LOG_LEVEL, FLEET_WORKERS (see docs for the full list).
--workers N|auto runs N manager processes on the same ports (PostgreSQL only).
--insecure allows listening beyond loopback without authentication.`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "serve";
  if (command === "certs") return runCertsCommand(argv.slice(1));
  let config: ReturnType<typeof loadManagerConfig>;
  try {
    config = loadManagerConfig({
      argv,
      env: process.env,
      readFile: (p) => readFileSync(p, "utf8"),
      // The listen policy (secure by default) is part of loading, for the command that listens.
      listens: command === "serve",
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fleet-manager: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger("fleet-manager", config.logLevel);

  if (command === "migrate") {
    let handle: Awaited<ReturnType<typeof openDatabase>>;
    try {
      handle = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      process.stderr.write(`fleet-manager: ${err.message}\n`);
      return 2;
    }
    try {
      await runMigrations(handle);
      logger.info({ db: handle.kind, where: handle.where }, "migrations applied");
    } finally {
      await handle.close();
    }
    return 0;
  }
  if (command !== "serve") {
    process.stderr.write(`fleet-manager: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  }

  if (isClusterPrimary(config)) return runClusterPrimary(config, logger);
  const manager = createManager(config, { logger });
  exitOnCrash(logger, () => manager.stop());
  try {
    await manager.start();
    joinCluster(manager.runtime.telemetry);
  } catch (err) {
    // Whatever got opened before the failure (a listening port, the database)
    // would keep the process alive, so a supervisor would see it as running.
    await manager.stop();
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`fleet-manager: ${err.message}\n`);
      return 2;
    }
    if (err instanceof DatabaseUnreachableError) {
      process.stderr.write(`fleet-manager: ${err.message}\n`);
      return 1;
    }
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`fleet-manager: ${err.message}\n`);
    return 2;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
  await manager.stop();
  leaveCluster();
  return 0;
}

/**
 * A throw or rejection nobody handles (a driver callback, a stray promise) is a
 * bug whose effects are unknown: log it as fatal with its stack, try a bounded
 * graceful stop (acknowledged data is committed; GOAWAY lets balancers move
 * on), then exit 70 (EX_SOFTWARE) so a supervisor restarts the process. Never
 * carry on silently and never die without a line saying why.
 */
function exitOnCrash(logger: Logger, stop: () => Promise<void>): void {
  let crashing = false;
  const crash = (what: string) => (err: unknown) => {
    logger.fatal({ err }, `${what}: exiting`);
    if (crashing) return;
    crashing = true;
    process.exitCode = 70;
    setTimeout(() => process.exit(70), CRASH_STOP_MS).unref();
    stop().then(
      () => process.exit(70),
      (stopErr: unknown) => {
        logger.error({ err: stopErr }, "stopping after the crash failed");
        process.exit(70);
      },
    );
  };
  process.on("uncaughtException", crash("uncaught exception"));
  process.on("unhandledRejection", crash("unhandled promise rejection"));
}

/** How long a crashing manager tries to stop gracefully before it exits anyway. */
const CRASH_STOP_MS = 5000;

runMain("fleet-manager", main);
