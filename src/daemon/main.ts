#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { ConfigError } from "../common/errors.js";
import { createLogger } from "../common/logging.js";
import { createCollectors } from "./collectors/all.js";
import { loadDaemonConfig } from "./config.js";
import { hostRegistration } from "./host-info.js";
import { resolveNodeId } from "./node-id.js";
import { runOnce } from "./once.js";
import { createManagerClient } from "./transport/client.js";

const USAGE = `usage: fleet-daemon [--config daemon.yaml] [--once] [--log-level LEVEL] [--work-dir DIR]

  --once       collect and report one round, print what was sent, exit non-zero on failure
Environment: MANAGER_ADDRESS, LOG_LEVEL, NODE_NAME (node id).`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: ReturnType<typeof loadDaemonConfig>;
  try {
    config = loadDaemonConfig({ argv, env: process.env, readFile: (p) => readFileSync(p, "utf8") });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fleet-daemon: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger("fleet-daemon", config.logLevel);
  const nodeId = resolveNodeId(config.id, config.workDir);
  const client = createManagerClient({
    address: config.manager.address,
    timeoutMs: config.manager.timeoutMs,
    tls: config.manager.tls,
  });
  const collectors = createCollectors(config.collectors).map((c) => c.collector);

  if (config.once) {
    try {
      const report = await runOnce(client, hostRegistration(nodeId), collectors);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.collectorErrors.length > 0 || report.rejected > 0 ? 1 : 0;
    } catch (err) {
      process.stderr.write(
        `fleet-daemon: --once failed against ${config.manager.address}: ${(err as Error).message}\n`,
      );
      return 1;
    }
  }
  logger.error("continuous mode is not available yet; use --once");
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `fleet-daemon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
