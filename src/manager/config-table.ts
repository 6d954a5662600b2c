/**
 * The manager's keys, part one (listeners, database, heartbeat, liveness,
 * ingest, retention); config-table-limits.ts has the rest. Data only: the
 * loader, the problem wording and the docs come from src/common/config/.
 */
import { availableParallelism } from "node:os";
import {
  address,
  autoOr,
  boolean,
  durationMs,
  durationS,
  fmtAddress,
  fmtMs,
  fmtSeconds,
  fraction,
  integer,
  maskUrlPassword,
  oneOf,
  postgresUrl,
  text,
} from "../common/config/parsers.js";
import { type ConfigKey, keyOf } from "../common/config/table.js";
import { LOG_LEVELS } from "../common/logging.js";
import type { ManagerConfig } from "./config.js";
import { MANAGER_LIMIT_KEYS } from "./config-table-limits.js";

const key = keyOf<ManagerConfig>();

/** Every manager key, in the order of docs/configuration.md. */
export const MANAGER_TABLE: readonly ConfigKey<ManagerConfig>[] = [
  key({
    yaml: "grpc.addr",
    field: "grpcAddr",
    env: "FLEET_GRPC_ADDR",
    parse: address,
    format: fmtAddress,
    doc: "gRPC listen address (daemons, FleetService, grpc.health.v1)",
  }),
  key({
    yaml: "grpc.fast_path",
    field: "grpcFastPath",
    parse: boolean,
    doc: "Serve ManagerService unary calls on the fast path (raw node:http2 streams, about 5x connect-node's rate, same protocol); false uses connect-node",
  }),
  key({
    yaml: "grpc.goaway_after_not_found",
    field: "grpcGoawayAfterNotFound",
    parse: integer(0, 1_000_000),
    doc: "NOT_FOUND answers on one HTTP/2 connection after which the manager closes it gracefully (GOAWAY), so daemons of the existing Go system, which register only when they connect, come back by themselves; 0 = never",
  }),
  key({
    yaml: "http.addr",
    field: "httpAddr",
    env: "FLEET_HTTP_ADDR",
    parse: address,
    format: fmtAddress,
    doc: "HTTP listen address (dashboard, Connect JSON API, /healthz, /readyz, /metrics)",
  }),
  key({
    yaml: "database.url",
    field: "databaseUrl",
    env: "DATABASE_URL",
    parse: postgresUrl,
    secret: maskUrlPassword,
    doc: "PostgreSQL URL; unset uses embedded PGlite under database.data_dir",
  }),
  key({
    yaml: "database.data_dir",
    field: "dataDir",
    env: "FLEET_DATA_DIR",
    parse: text,
    doc: "PGlite data directory when database.url is unset",
  }),
  key({
    yaml: "database.pool_size",
    field: "databasePoolSize",
    parse: integer(4, 1000),
    doc: "PostgreSQL connection pool size per manager (at least 4: ingest, heartbeat flushes, the sweeper and queries share it)",
  }),
  key({
    yaml: "database.start_timeout",
    field: "databaseStartTimeoutMs",
    parse: durationMs(0, 3_600_000),
    format: fmtMs,
    doc: "How long a starting manager retries an unreachable database (one log line per try) before it exits 1; 0 exits at once",
  }),
  key({
    yaml: "log_level",
    field: "logLevel",
    env: "FLEET_LOG_LEVEL",
    parse: oneOf(LOG_LEVELS),
    doc: "Log level of the JSON logs on stderr",
  }),
  key({
    yaml: "workers",
    field: "workers",
    env: "FLEET_WORKERS",
    flag: "workers",
    parse: autoOr(availableParallelism, integer(1, 256)),
    doc: "Manager worker processes on the same ports (node:cluster; CLI --workers N|auto, auto = one per CPU); more than 1 needs database.url",
  }),
  key({
    yaml: "heartbeat.interval",
    field: "heartbeatIntervalSeconds",
    parse: durationS(1, 3600),
    format: fmtSeconds,
    doc: "Heartbeat interval asked of daemons that do not say theirs (the existing Go daemons); ours send their manager.heartbeat_interval and get max(it, floor)",
  }),
  key({
    yaml: "heartbeat.min_interval",
    field: "heartbeat.minIntervalSeconds",
    parse: durationS(1, 3600),
    format: fmtSeconds,
    doc: "Smallest heartbeat interval the manager accepts: floor = max(min_interval, nodes / max_per_second)",
  }),
  key({
    yaml: "heartbeat.max_per_second",
    field: "heartbeat.maxPerSecond",
    parse: integer(1, 1_000_000),
    doc: "Fleet-wide heartbeat budget; the floor grows to nodes / max_per_second (a large fleet is slowed down)",
  }),
  key({
    yaml: "heartbeat.flush_interval",
    field: "heartbeat.flushIntervalMs",
    parse: durationMs(10, 1000),
    format: fmtMs,
    doc: "How often coalesced last_seen updates are written, in one statement",
  }),
  key({
    yaml: "heartbeat.known_node_ttl",
    field: "heartbeat.knownNodeTtlMs",
    parse: durationMs(1000, 86_400_000),
    format: fmtMs,
    doc: "How long a node known from memory is trusted before the database is asked again",
  }),
  key({
    yaml: "liveness.grace_period",
    field: "liveness.gracePeriodSeconds",
    parse: durationS(0, 86_400),
    format: fmtSeconds,
    doc: "Silence after which a node is offline, the same for every node; 0s means per node: grace_multiplier × max(its interval, its observed cadence)",
  }),
  key({
    yaml: "liveness.grace_multiplier",
    field: "liveness.graceMultiplier",
    parse: integer(2, 100),
    doc: "Grace period in heartbeat intervals (the node's own: announced or observed, whichever is longer), when grace_period is 0s",
  }),
  key({
    yaml: "liveness.sweep_interval",
    field: "liveness.sweepIntervalMs",
    parse: durationMs(50, 600_000),
    format: fmtMs,
    doc: "How often the sweeping replica checks liveness",
  }),
  key({
    yaml: "liveness.mass_miss_fraction",
    field: "liveness.massMissFraction",
    parse: fraction,
    doc: "Share of online nodes missing at once that holds transitions (manager suspects itself)",
  }),
  key({
    yaml: "liveness.mass_miss_min_nodes",
    field: "liveness.massMissMinNodes",
    parse: integer(1, 10_000_000),
    doc: "Online nodes needed before mass-miss suspicion applies",
  }),
  key({
    yaml: "liveness.flap_window",
    field: "liveness.flapWindowSeconds",
    parse: durationS(10, 86_400),
    format: fmtSeconds,
    doc: "Window in which status transitions are counted for flapping",
  }),
  key({
    yaml: "liveness.flap_enter",
    field: "liveness.flapEnterTransitions",
    parse: integer(2, 1000),
    doc: "Transitions within flap_window that mark a node flapping",
  }),
  key({
    yaml: "liveness.flap_exit",
    field: "liveness.flapExitTransitions",
    parse: integer(0, 999),
    doc: "Transitions within flap_window at or below which flapping clears (below flap_enter)",
  }),
  key({
    yaml: "liveness.forget_after",
    field: "liveness.forgetAfterSeconds",
    parse: durationS(0, 3650 * 86_400),
    format: fmtSeconds,
    doc: "Nodes offline for longer are deleted with their metrics (a `deleted` event says why), e.g. 7d; 0s = never",
  }),
  key({
    yaml: "liveness.ephemeral_forget_after",
    field: "liveness.ephemeralForgetAfterSeconds",
    parse: durationS(0, 3650 * 86_400),
    format: fmtSeconds,
    doc: "Nodes registered with fleet-daemon --ephemeral are deleted with their metrics after this long offline; 0s = never",
  }),
  key({
    yaml: "ingest.batch_window",
    field: "ingest.batchWindowMs",
    parse: durationMs(0, 1000),
    format: fmtMs,
    doc: "How long ReportMetrics waits to merge concurrent requests into one statement",
  }),
  key({
    yaml: "ingest.max_batch_rows",
    field: "ingest.maxBatchRows",
    parse: integer(1, 1_000_000),
    doc: "Most metric rows in one group-commit statement",
  }),
  key({
    yaml: "ingest.max_concurrent_batches",
    field: "ingest.maxConcurrentBatches",
    parse: integer(1, 256),
    doc: "Group-commit statements running at once",
  }),
  key({
    yaml: "ingest.max_pending_rows",
    field: "ingest.maxPendingRows",
    parse: integer(1, 100_000_000),
    doc: "Queued rows beyond which ReportMetrics answers UNAVAILABLE (overload)",
  }),
  key({
    yaml: "retention.days",
    field: "retention.days",
    parse: integer(1, 3650),
    doc: "Days of metrics kept; older daily partitions are dropped, and older samples rejected",
  }),
  key({
    yaml: "retention.partitions_ahead",
    field: "retention.partitionsAhead",
    parse: integer(1, 60),
    doc: "Daily metrics partitions created ahead of today",
  }),
  key({
    yaml: "retention.maintenance_interval",
    field: "retention.maintenanceIntervalMs",
    parse: durationMs(1000, 86_400_000),
    format: fmtMs,
    doc: "How often partitions are created ahead and dropped past retention",
  }),
  ...MANAGER_LIMIT_KEYS,
];
