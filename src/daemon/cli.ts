import { readFileSync } from "node:fs";
import { ConfigError } from "../common/errors.js";
import { createLogger } from "../common/logging.js";
import { runMain } from "../common/run-main.js";
import { createCollectors } from "./collectors/all.js";
import { loadDaemonConfig } from "./config.js";
import { createDaemon } from "./daemon.js";
import { hostRegistration } from "./host-info.js";
import { resetNodeId, resolveNodeId } from "./node-id.js";
import { runOnce } from "./once.js";
import { formatStatus, readStatus, statusPath } from "./status.js";
import { createManagerConnection } from "./transport/client.js";
import { workDirProblem } from "./work-dir.js";

const USAGE = `usage: fleet-daemon [--config daemon.yaml] [--once] [--ephemeral] [--log-level LEVEL] [--work-dir DIR]
       fleet-daemon status [--config daemon.yaml] [--work-dir DIR]
       fleet-daemon reset-id [--config daemon.yaml] [--work-dir DIR]

  --config FILE     YAML configuration (daemon, manager, collectors sections)
  --once            collect and report one round, print what was sent, exit non-zero on failure
  --ephemeral       register as a node that should not linger: the manager deletes it soon
                    after it goes offline (liveness.ephemeral_forget_after), e.g. with --once
  --log-level LVL   trace, debug, info, warn, error, fatal or silent
  --work-dir DIR    overrides daemon.work_dir (node_id, spool/, status.json)
  status            print work_dir/status.json of a running (or stopped) daemon
  reset-id          new node id for a cloned machine (replaces work_dir/node_id, clears
                    the spool copied with it); the daemon must be stopped
Environment: MANAGER_ADDRESS, LOG_LEVEL, NODE_NAME (node id), FLEET_LABELS (env=prod,role=web).
Exit codes: 0 ok, 1 failure, 2 bad configuration.`;

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

  if (config.command === "status") {
    try {
      process.stdout.write(formatStatus(await readStatus(config.workDir)));
      return 0;
    } catch (err) {
      process.stderr.write(
        `fleet-daemon: no status at ${statusPath(config.workDir)}: ${(err as Error).message}\n`,
      );
      return 1;
    }
  }

  if (config.command === "reset-id") {
    try {
      const r = resetNodeId(config.id, config.workDir);
      process.stdout.write(
        `node id ${r.previous ?? "(none)"} -> ${r.id} in ${config.workDir}/node_id${r.spoolCleared ? "; spool of the old identity cleared" : ""}\nstart the daemon to register as the new node\n`,
      );
      return 0;
    } catch (err) {
      process.stderr.write(`fleet-daemon: reset-id: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const logger = createLogger("fleet-daemon", config.logLevel);
  // The existing system's keys Fleet does not implement: one line each, then run.
  for (const warning of config.warnings) logger.warn(`config: ${warning}`);
  const workDir = workDirProblem(config.workDir);
  if (workDir) {
    process.stderr.write(`fleet-daemon: ${workDir}\n`);
    return 2;
  }
  if (config.command === "once") {
    const nodeId = resolveNodeId(config.id, config.workDir);
    const connection = createManagerConnection({
      address: config.manager.address,
      timeoutMs: config.manager.timeoutMs,
      tls: config.manager.tls,
      tokenFile: config.manager.tokenFile || undefined,
      // One quick retry for a blip; an unreachable manager fails within seconds.
      retry: { maxAttempts: 2, maxElapsedMs: 2_000 },
    });
    const collectors = createCollectors(config.collectors).map((c) => c.collector);
    try {
      const registration = hostRegistration(nodeId, config.labels, {
        heartbeatIntervalMs: config.manager.heartbeatIntervalMs,
        ephemeral: config.ephemeral,
      });
      const report = await runOnce(connection.client, registration, collectors);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.collectorErrors.length > 0 || report.rejected > 0 ? 1 : 0;
    } catch (err) {
      process.stderr.write(
        `fleet-daemon: --once failed against ${config.manager.address}: ${await connection.diagnose(err)}\n`,
      );
      return 1;
    } finally {
      connection.close();
    }
  }

  const daemon = createDaemon(config, { logger });
  await daemon.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down: flushing what can be sent, keeping the rest");
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      resolve();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  await daemon.stop();
  logger.info({ spooled: daemon.spool.stats().batches }, "fleet-daemon stopped");
  return 0;
}

runMain("fleet-daemon", main);
