#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { ConfigError } from "../common/errors.js";
import { createLogger } from "../common/logging.js";
import { loadManagerConfig } from "./config.js";
import { openDatabase } from "./db/client.js";
import { runMigrations } from "./db/migrate.js";
import { createManager } from "./server.js";

const USAGE = `usage: fleet-manager [serve|migrate] [--config manager.yaml] [--insecure]

  serve     run the manager (default)
  migrate   apply database migrations and exit

Environment: DATABASE_URL, FLEET_DATA_DIR, FLEET_GRPC_ADDR, FLEET_HTTP_ADDR,
FLEET_LOG_LEVEL (see docs for the full list).`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "serve";
  let config: ReturnType<typeof loadManagerConfig>;
  try {
    config = loadManagerConfig({
      argv,
      env: process.env,
      readFile: (p) => readFileSync(p, "utf8"),
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
    const handle = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
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

  const manager = createManager(config, { logger });
  await manager.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
  await manager.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `fleet-manager: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
