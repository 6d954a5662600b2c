import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { Logger } from "../common/logging.js";
import type { ManagerConfig } from "./config.js";
import { openDatabase } from "./db/client.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { runMigrations } from "./db/migrate.js";
import { DatabaseUnreachableError, waitForDatabase } from "./db/wait-for-database.js";
import type { Telemetry } from "./telemetry.js";

/**
 * `--workers N`: one primary process and N node:cluster workers, each the
 * normal manager on the same gRPC and HTTP ports (the primary holds the
 * listening sockets and hands connections out round-robin, so port 0 is one
 * port for all). Workers are stateless replicas coordinating through
 * PostgreSQL like replicas on several hosts: the sweeper's leader lease keeps
 * one liveness sweeper, partition DDL takes an advisory lock. The primary
 * serves nothing itself: it migrates once, restarts crashed workers, drains
 * them all on SIGTERM/SIGINT and answers the workers' /metrics requests with
 * the sum over all workers.
 */

/** Exits within this window count towards a crash loop. */
const CRASH_WINDOW_MS = 60_000;
/** More exits than this within the window: stop restarting. */
const CRASH_LOOP_EXITS = 5;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Worker exit code for a configuration problem (main.ts): restarting cannot help. */
const EXIT_CONFIG = 2;
/** How long the primary waits for a worker's /metrics answer before it fails the scrape. */
const METRICS_TIMEOUT_MS = 5000;

const METRICS_REQ = "fleet:cluster-metrics-req";
const METRICS_RES = "fleet:cluster-metrics-res";

interface MetricsRequest {
  type: typeof METRICS_REQ;
  id: number;
}
interface MetricsResponse {
  type: typeof METRICS_RES;
  id: number;
  text?: string;
  error?: string;
}

export const isClusterPrimary = (config: Readonly<ManagerConfig>): boolean =>
  config.workers > 1 && cluster.isPrimary;

/**
 * The primary: migrations once, then N workers until a signal or a crash loop.
 * Resolves to the process exit code.
 */
export async function runClusterPrimary(
  config: Readonly<ManagerConfig>,
  logger: Logger,
): Promise<number> {
  const migrated = await migrateOnce(config, logger);
  if (migrated !== 0) return migrated;

  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker: Worker, msg: MetricsRequest) => {
    if (msg?.type !== METRICS_REQ) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_RES, id: msg.id, text } satisfies MetricsResponse),
      (err: unknown) =>
        worker.send({
          type: METRICS_RES,
          id: msg.id,
          error: String(err),
        } satisfies MetricsResponse),
    );
  });

  const exits: number[] = [];
  let stopping = false;
  let failed: number | undefined;
  let listening = 0;
  const fork = () => {
    const w = cluster.fork();
    logger.info({ pid: w.process.pid }, "worker started");
    w.on("listening", () => {
      // Two listeners (gRPC and HTTP) per worker; one line when all are up.
      if (++listening === 2 * config.workers) {
        logger.info({ workers: config.workers }, "cluster serving");
      }
    });
  };

  const done = new Promise<number>((resolve) => {
    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      failed = code;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM");
      // A worker stuck past its own shutdown timeout is killed, and that is a failure.
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGKILL");
        logger.error("workers did not stop within shutdown.timeout; killed");
        failed = 1;
      }, config.shutdown.timeoutMs + 5000).unref();
      if (Object.keys(cluster.workers ?? {}).length === 0) resolve(code);
    };
    const onSignal = (signal: string) => {
      logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, "shutting down");
      stopAll(0);
    };
    // Kept for repeats: systemd (KillMode=control-group), `timeout` and a
    // terminal's ^C signal the whole group, so a second signal is common.
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);

    cluster.on("exit", (w: Worker, code: number | null, signal: string | null) => {
      const left = Object.keys(cluster.workers ?? {}).length;
      if (stopping) {
        if (code !== 0) {
          logger.error({ pid: w.process.pid, code, signal }, "worker did not stop cleanly");
          failed = failed || 1;
        }
        if (left === 0) resolve(failed ?? 0);
        return;
      }
      if (code === EXIT_CONFIG) {
        process.stderr.write(
          `fleet-manager: worker ${w.process.pid} exited ${code} (configuration or data problem, see its log); stopping\n`,
        );
        stopAll(EXIT_CONFIG);
        if (left === 0) resolve(EXIT_CONFIG);
        return;
      }
      const now = Date.now();
      exits.push(now);
      while (exits.length && (exits[0] as number) < now - CRASH_WINDOW_MS) exits.shift();
      if (exits.length > CRASH_LOOP_EXITS) {
        process.stderr.write(
          `fleet-manager: workers are crash-looping (${exits.length} exits within ${CRASH_WINDOW_MS / 1000} s, last code ${code} signal ${signal}); stopping\n`,
        );
        stopAll(1);
        if (left === 0) resolve(1);
        return;
      }
      const delayMs = Math.min(BACKOFF_BASE_MS * 2 ** (exits.length - 1), BACKOFF_MAX_MS);
      logger.error(
        { pid: w.process.pid, code, signal, restartInMs: delayMs, recentExits: exits.length },
        "worker exited; restarting",
      );
      listening = Math.max(0, listening - 2);
      setTimeout(() => {
        if (!stopping) fork();
      }, delayMs);
    });
  });

  logger.info({ workers: config.workers }, "starting workers");
  for (let i = 0; i < config.workers; i++) fork();
  return done;
}

/** Applies the migrations before any worker starts, so workers never race on them. */
async function migrateOnce(config: Readonly<ManagerConfig>, logger: Logger): Promise<number> {
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    process.stderr.write(`fleet-manager: ${err.message}\n`);
    return EXIT_CONFIG;
  }
  try {
    await waitForDatabase(handle, () => runMigrations(handle), {
      timeoutMs: config.databaseStartTimeoutMs,
      logger,
    });
    logger.info({ db: handle.kind, where: handle.where }, "migrations applied (cluster primary)");
    return 0;
  } catch (err) {
    if (!(err instanceof DatabaseUnreachableError)) throw err;
    process.stderr.write(`fleet-manager: ${err.message}\n`);
    return 1;
  } finally {
    await handle.close();
  }
}

/**
 * In a worker: survive repeated stop signals, answer the primary's requests
 * for this worker's metrics, and make this worker's /metrics the whole cluster's. Counters and histograms
 * are summed (what one process would have counted); gauges say how they
 * combine where they are declared (`aggregator` in telemetry.ts).
 */
export function joinCluster(telemetry: Telemetry): void {
  if (!cluster.isWorker) return;
  // The group gets the signal and the primary forwards it too: the second
  // one must not kill a worker that is draining (main.ts listens once).
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => {});
  new AggregatorRegistry(); // registers prom-client's worker-side listener
  AggregatorRegistry.setRegistries([telemetry.registry]);
  let next = 0;
  const pending = new Map<number, (r: MetricsResponse) => void>();
  process.on("message", (msg: MetricsResponse) => {
    if (msg?.type !== METRICS_RES) return;
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  // /metrics (ops-http.ts) renders through registry.metrics(); in a worker
  // that is the primary's aggregate. getMetricsAsJSON, which the primary
  // collects, stays this worker's own.
  telemetry.registry.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new Error(`cluster primary did not answer /metrics within ${METRICS_TIMEOUT_MS} ms`),
        );
      }, METRICS_TIMEOUT_MS);
      pending.set(id, (r) => {
        clearTimeout(timer);
        if (r.text !== undefined) resolve(r.text);
        else reject(new Error(`cluster metrics: ${r.error ?? "no answer"}`));
      });
      process.send?.({ type: METRICS_REQ, id } satisfies MetricsRequest);
    });
}

/**
 * In a worker, after the manager stopped: leave the cluster (closes the IPC
 * channel that would otherwise keep the process alive) and keep the exit code.
 */
export function leaveCluster(): void {
  cluster.worker?.disconnect();
}
