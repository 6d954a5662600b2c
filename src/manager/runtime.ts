import type { Logger } from "../common/logging.js";
import { type ManagerConfig, validationLimits } from "./config.js";
import { type DatabaseHandle, openDatabase } from "./db/client.js";
import { runMigrations } from "./db/migrate.js";
import { waitForDatabase } from "./db/wait-for-database.js";
import { createNotFoundGoaway, type NotFoundGoaway } from "./interceptors/not-found-goaway.js";
import type { Services } from "./routes.js";
import { type Admission, createAdmission } from "./services/admission.js";
import { createFleetHistoryService } from "./services/fleet-history.js";
import { createFleetQueryService } from "./services/fleet-query.js";
import { createFleetRollup, type FleetRollup, ROLLUP_DEFAULTS } from "./services/fleet-rollup.js";
import { createHeartbeatBatcher, type HeartbeatBatcher } from "./services/heartbeat-batcher.js";
import { createIdentityWatch } from "./services/identity-watch.js";
import { createIngestBatcher, type IngestBatcher } from "./services/ingest-batcher.js";
import { createKnownNodes } from "./services/known-nodes.js";
import { createLeaderLease } from "./services/leader-lease.js";
import { createLiveness, type Liveness, SWEEPER_LEASE } from "./services/liveness.js";
import { createMetricsService } from "./services/metrics.js";
import { createNodeWatchHub } from "./services/node-watch.js";
import { createNodeService } from "./services/nodes.js";
import { createPacing, type Pacing } from "./services/pacing.js";
import { createRetention, type Retention } from "./services/retention.js";
import type { ServingState } from "./services/serving-state.js";
import type { Telemetry } from "./telemetry.js";

/** The background parts, for tests and operations (manager.runtime). */
export interface ManagerRuntime {
  liveness: Liveness;
  heartbeats: HeartbeatBatcher;
  ingest: IngestBatcher;
  retention: Retention;
  rollup: FleetRollup;
  pacing: Pacing;
  telemetry: Telemetry;
  serving: ServingState;
  admission: Admission;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Made once per manager, so a restarted manager keeps its counters and health state. */
  telemetry: Telemetry;
  serving: ServingState;
  /** How often WatchNodes polls for new node events (default 1000 ms). */
  watchPollIntervalMs?: number | undefined;
  /** Longest silence on a WatchNodes stream before a keepalive (default 15 s). */
  watchKeepaliveMs?: number | undefined;
  /** The per-node rate limiter's clock, monotonic ms (default the real one). */
  rateLimitClock?: (() => number) | undefined;
}

/**
 * Everything a started manager runs on, built from config in one place (as
 * bsync's AppContext.fromConfig): the database handle and the services, with
 * their lifecycle — start() after the ports are bound, closeStreams() and
 * stop() around the listeners' drain.
 */
export interface Runtime {
  readonly database: DatabaseHandle;
  readonly limits: ReturnType<typeof validationLimits>;
  /** What the routes serve. */
  readonly services: Services;
  /** The in-flight cap and per-node buckets (the shed and rate-limit interceptors). */
  readonly admission: Admission;
  /** The NOT_FOUND → GOAWAY rule, fed by the error interceptor. */
  readonly goaway: NotFoundGoaway;
  readonly background: ManagerRuntime;
  /** Starts the background loops: heartbeat flushes, retention, the liveness sweeper. */
  start(): Promise<void>;
  /** Ends every WatchNodes stream, so the listeners can drain. */
  closeStreams(): void;
  /** After the listeners drained: writes what is queued, stops the loops, closes the database. */
  stop(): Promise<void>;
}

/**
 * Opens the database, applies migrations, makes the retention window's
 * partitions and builds the services. On failure whatever was opened is
 * closed again before the error goes on.
 */
export async function createRuntime(
  config: Readonly<ManagerConfig>,
  opts: RuntimeOptions,
): Promise<Runtime> {
  const { logger } = opts;
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  try {
    logger.info({ db: database.kind, where: database.where }, "database opened");
    await waitForDatabase(database, () => runMigrations(database), {
      timeoutMs: config.databaseStartTimeoutMs,
      logger,
    });
    return await assemble(config, database, opts);
  } catch (err) {
    await database.close();
    throw err;
  }
}

async function assemble(
  config: Readonly<ManagerConfig>,
  database: DatabaseHandle,
  opts: RuntimeOptions,
): Promise<Runtime> {
  const { logger, telemetry, serving } = opts;
  const db = database.db;
  const limits = validationLimits(config);
  const retention = createRetention({
    handle: database,
    retentionDays: config.retention.days,
    partitionsAhead: config.retention.partitionsAhead,
    maintenanceIntervalMs: config.retention.maintenanceIntervalMs,
    logger,
  });
  // Partitions for the whole retention window exist before the first row arrives.
  await retention.maintain();
  const rollup = createFleetRollup({
    handle: database,
    options: { ...ROLLUP_DEFAULTS, keepSeconds: config.retention.days * 86_400 },
    logger,
  });
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
    handle: database,
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
  const goaway = createNotFoundGoaway({ after: config.grpcGoawayAfterNotFound, logger });
  const services: Services = {
    goaway,
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
  const admission = createAdmission(config.admission, opts.rateLimitClock);
  return {
    database,
    limits,
    services,
    admission,
    goaway,
    background: {
      liveness,
      heartbeats,
      ingest,
      retention,
      rollup,
      pacing,
      telemetry,
      serving,
      admission,
    },
    async start() {
      heartbeats.start();
      retention.start();
      rollup.start();
      await liveness.start();
    },
    closeStreams() {
      services.watch.close();
    },
    async stop() {
      // Every acknowledged request is committed by now; write what is still queued.
      await ingest.drain();
      await liveness.stop();
      await retention.stop();
      await rollup.stop();
      await heartbeats.stop();
      await database.close();
    },
  };
}
