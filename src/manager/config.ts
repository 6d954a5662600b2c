/**
 * Manager configuration: one defaults object (MANAGER_DEFAULTS), then the YAML
 * file (`--config`), then the environment (DESIGN §3). Every key is listed
 * once in MANAGER_CONFIG_KEYS with its YAML path, environment variable,
 * default and a one-line description, so docs can be generated from it.
 *
 * manager.yaml (all keys optional; values shown are the defaults):
 *
 *   grpc:      { addr: "127.0.0.1:9090", fast_path: true, goaway_after_not_found: 3 }
 *   http:      { addr: "127.0.0.1:8080" }
 *   database:  { url: "", data_dir: ./.fleet, pool_size: 10, start_timeout: 60s }
 *   log_level: info
 *   heartbeat: { interval: 60s, min_interval: 1s, max_per_second: 1000, flush_interval: 500ms,
 *                known_node_ttl: 5m }
 *   liveness:  { grace_period: 0s (= grace_multiplier × the node's interval), grace_multiplier: 3,
 *                forget_after: 0s (off), ephemeral_forget_after: 5m,
 *                sweep_interval: 5s, mass_miss_fraction: 0.5, mass_miss_min_nodes: 10,
 *                flap_window: 10m, flap_enter: 6, flap_exit: 2 }
 *   ingest:    { batch_window: 5ms, max_batch_rows: 20000, max_concurrent_batches: 4,
 *                max_pending_rows: 200000 }
 *   retention: { days: 30, partitions_ahead: 3, maintenance_interval: 1h }
 *   limits:    { node_id_max_length: 128, hostname_max_length: 255, text_max_length: 255,
 *                labels_max_pairs: 64, label_key_max_length: 63, label_value_max_length: 255,
 *                metric_type_max_length: 63, values_per_metric_max: 512,
 *                value_name_max_length: 128, metrics_per_request_max: 5000,
 *                max_future: 5m, request_max_bytes: 4MiB, max_timeout: 1h }
 *   shutdown:  { timeout: 15s }
 *   tls:       { cert: "", key: "", client_ca: "", reload_interval: 10s, expiry_window: 14d }
 *   identity:  { detect_conflicts: true, conflict_hold: 1h }
 *   auth:      { api_token: "", enroll_token: "", bind_node_identity: true }
 *   admission: { heartbeats_per_second: 1, heartbeat_burst: 10, reports_per_second: 5,
 *                report_burst: 50, max_in_flight: 2048, tracked_nodes_max: 100000,
 *                pushback_min: 500ms, pushback_spread: 10s,
 *                max_concurrent_streams: 1000, max_header_list_size: 16KiB,
 *                idle_timeout: 5m, first_request_timeout: 10s }
 */

import { checkConfigKeys } from "../common/config-keys-check.js";
import {
  deepFreeze,
  getPath,
  parseAddress,
  parseDurationMs,
  readConfigFile,
} from "../common/config-load.js";
import { ConfigError } from "../common/errors.js";
import { LOG_LEVELS, type LogLevel } from "../common/logging.js";
import type { ValidationLimits } from "../common/validation.js";

export interface Address {
  host: string;
  port: number;
}

/** Input limits; the retention window (maxAgeSeconds) comes from `retention.days`. */
export type ManagerLimits = Omit<ValidationLimits, "maxAgeSeconds">;

export interface ManagerConfig {
  grpcAddr: Address;
  /** Serve ManagerService unary calls on the fast path (fast-path/, raw node:http2 streams). */
  grpcFastPath: boolean;
  /** NOT_FOUND answers on one HTTP/2 connection after which it gets a GOAWAY (0 = never). */
  grpcGoawayAfterNotFound: number;
  httpAddr: Address;
  /** postgres:// URL; undefined means embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** postgres.js pool size. */
  databasePoolSize: number;
  /** How long start() retries a database it cannot reach (0: fail at once). */
  databaseStartTimeoutMs: number;
  logLevel: LogLevel;
  /** The heartbeat interval asked of daemons that do not say theirs (the existing Go daemons). */
  heartbeatIntervalSeconds: number;
  /** Explicit opt-out of the secure-by-default checks. */
  insecure: boolean;
  heartbeat: {
    /** The floor's minimum: floor = max(minIntervalSeconds, nodes / maxPerSecond). */
    minIntervalSeconds: number;
    /** Fleet-wide heartbeat budget: interval = max(the daemon's interval, floor). */
    maxPerSecond: number;
    /** How often coalesced last_seen updates are written (≤ 1 s). */
    flushIntervalMs: number;
    /** How long a known node is trusted from memory before it is checked again. */
    knownNodeTtlMs: number;
  };
  liveness: {
    /** 0: graceMultiplier × the current heartbeat interval. */
    gracePeriodSeconds: number;
    graceMultiplier: number;
    sweepIntervalMs: number;
    /** Share of online nodes missing at once that makes the manager suspect itself. */
    massMissFraction: number;
    /** Below this many online nodes, mass-miss suspicion is off. */
    massMissMinNodes: number;
    flapWindowSeconds: number;
    /** Transitions within the window that mark a node flapping … */
    flapEnterTransitions: number;
    /** … and at most this many that clear it again (hysteresis). */
    flapExitTransitions: number;
    /** Offline nodes are deleted after this long (0 = never). */
    forgetAfterSeconds: number;
    /** Offline nodes registered as ephemeral are deleted after this long (0 = never). */
    ephemeralForgetAfterSeconds: number;
  };
  ingest: {
    /** How long the first request of a batch waits for company. */
    batchWindowMs: number;
    maxBatchRows: number;
    maxConcurrentBatches: number;
    /** Rows queued beyond this are refused with UNAVAILABLE (overload). */
    maxPendingRows: number;
  };
  retention: {
    days: number;
    partitionsAhead: number;
    maintenanceIntervalMs: number;
  };
  limits: ManagerLimits;
  /** Longest deadline a client may ask for (grpc-timeout, connect-timeout-ms), on every path. */
  maxTimeoutMs: number;
  shutdown: { timeoutMs: number };
  /** PEM file paths; "" = unset. cert+key: TLS on both ports; client_ca too: mTLS on gRPC. */
  tls: {
    certFile: string;
    keyFile: string;
    clientCaFile: string;
    /** How often the TLS files are looked at besides the folder watch (hot rotation). */
    reloadIntervalMs: number;
    /** Certificates expiring within this are warned about and flagged on nodes. */
    expiryWindowSeconds: number;
  };
  identity: {
    /** How long a node stays flagged after two daemons were last seen sharing its node_id. */
    conflictHoldSeconds: number;
    /** Off for proxies that spread one daemon's calls over several source addresses without mTLS. */
    detectConflicts: boolean;
  };
  auth: {
    /** FleetService, the dashboard's API and /metrics*: `Authorization: Bearer`; "" = open. */
    apiToken: string;
    /** ManagerService (daemons): `Authorization: Bearer`; "" = not required. */
    enrollToken: string;
    /** With mTLS: every ManagerService node_id must equal the certificate's identity. */
    bindNodeIdentity: boolean;
  };
  admission: {
    /** Per-node token bucket for Heartbeat (tokens per second; 0 = off) and its burst. */
    heartbeatsPerSecond: number;
    heartbeatBurst: number;
    /** Per-node token bucket for ReportMetrics and RegisterNode (0 = off). */
    reportsPerSecond: number;
    reportBurst: number;
    /** Unary calls in flight beyond which new ones are shed with UNAVAILABLE. */
    maxInFlight: number;
    /** Most per-node buckets kept in memory (idle ones are dropped first). */
    trackedNodesMax: number;
    /** Shed answers ask for a retry after min + hash(node_id) share of spread. */
    pushbackMinMs: number;
    pushbackSpreadMs: number;
    /** HTTP/2 SETTINGS on the gRPC port. */
    maxConcurrentStreams: number;
    maxHeaderListSize: number;
    /** A connection with no traffic for this long is closed (both ports). */
    idleTimeoutMs: number;
    /** A connection that has not sent a request (or finished TLS) by then is closed. */
    firstRequestTimeoutMs: number;
  };
}

/** The single defaults object. */
export const MANAGER_DEFAULTS: ManagerConfig = {
  grpcAddr: { host: "127.0.0.1", port: 9090 },
  grpcFastPath: true,
  grpcGoawayAfterNotFound: 3,
  httpAddr: { host: "127.0.0.1", port: 8080 },
  databaseUrl: undefined,
  dataDir: "./.fleet",
  databasePoolSize: 10,
  databaseStartTimeoutMs: 60_000,
  logLevel: "info",
  heartbeatIntervalSeconds: 60,
  insecure: false,
  heartbeat: {
    minIntervalSeconds: 1,
    maxPerSecond: 1000,
    flushIntervalMs: 500,
    knownNodeTtlMs: 300_000,
  },
  liveness: {
    gracePeriodSeconds: 0,
    graceMultiplier: 3,
    sweepIntervalMs: 5000,
    massMissFraction: 0.5,
    massMissMinNodes: 10,
    flapWindowSeconds: 600,
    flapEnterTransitions: 6,
    flapExitTransitions: 2,
    forgetAfterSeconds: 0,
    ephemeralForgetAfterSeconds: 300,
  },
  ingest: {
    batchWindowMs: 5,
    maxBatchRows: 20_000,
    maxConcurrentBatches: 4,
    maxPendingRows: 200_000,
  },
  retention: { days: 30, partitionsAhead: 3, maintenanceIntervalMs: 3_600_000 },
  limits: {
    nodeIdMaxLength: 128,
    hostnameMaxLength: 255,
    textMaxLength: 255,
    labelsMaxPairs: 64,
    labelKeyMaxLength: 63,
    labelValueMaxLength: 255,
    metricTypeMaxLength: 63,
    valuesPerMetricMax: 512,
    valueNameMaxLength: 128,
    metricsPerRequestMax: 5000,
    maxFutureSeconds: 300,
    requestMaxBytes: 4 * 1024 * 1024,
  },
  maxTimeoutMs: 3_600_000,
  shutdown: { timeoutMs: 15_000 },
  tls: {
    certFile: "",
    keyFile: "",
    clientCaFile: "",
    reloadIntervalMs: 10_000,
    expiryWindowSeconds: 14 * 86_400,
  },
  identity: { conflictHoldSeconds: 3600, detectConflicts: true },
  auth: { apiToken: "", enrollToken: "", bindNodeIdentity: true },
  admission: {
    heartbeatsPerSecond: 1,
    heartbeatBurst: 10,
    reportsPerSecond: 5,
    reportBurst: 50,
    maxInFlight: 2048,
    trackedNodesMax: 100_000,
    pushbackMinMs: 500,
    pushbackSpreadMs: 10_000,
    maxConcurrentStreams: 1000,
    maxHeaderListSize: 16 * 1024,
    idleTimeoutMs: 300_000,
    firstRequestTimeoutMs: 10_000,
  },
};

type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };
type Parser<T> = (raw: unknown) => Parsed<T>;

interface KeySpec<T> {
  yaml: string;
  env?: string;
  description: string;
  parse: Parser<T>;
  get: (c: ManagerConfig) => T;
  set: (c: ManagerConfig, v: T) => void;
  format?: (v: T) => string;
}

/** One documented configuration key (for generated docs). */
export interface ConfigKeyDoc {
  yaml: string;
  env: string | undefined;
  default: string;
  description: string;
}

interface ConfigKey extends ConfigKeyDoc {
  apply(c: ManagerConfig, raw: unknown): string | undefined;
}

function key<T>(spec: KeySpec<T>): ConfigKey {
  const fmt = spec.format ?? ((v: T) => (v === undefined ? "" : String(v)));
  return {
    yaml: spec.yaml,
    env: spec.env,
    description: spec.description,
    default: fmt(spec.get(MANAGER_DEFAULTS)),
    apply(c, raw) {
      const r = spec.parse(raw);
      if (r.ok) {
        spec.set(c, r.value);
        return undefined;
      }
      return r.expected;
    },
  };
}

const fmtMs = (ms: number) =>
  ms % 3_600_000 === 0 && ms > 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0 && ms > 0
      ? `${ms / 60_000}m`
      : ms % 1000 === 0
        ? `${ms / 1000}s`
        : `${ms}ms`;

const durationMs =
  (minMs: number, maxMs: number): Parser<number> =>
  (raw) => {
    const ms = parseDurationMs(raw);
    return ms !== undefined && ms >= minMs && ms <= maxMs
      ? { ok: true, value: ms }
      : { ok: false, expected: `a duration from ${fmtMs(minMs)} to ${fmtMs(maxMs)}` };
  };
const durationS = (minS: number, maxS: number): Parser<number> => {
  const inner = durationMs(minS * 1000, maxS * 1000);
  return (raw) => {
    const r = inner(raw);
    return r.ok ? { ok: true, value: Math.round(r.value / 1000) } : r;
  };
};
const integer =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
    return Number.isInteger(n) && n >= min && n <= max
      ? { ok: true, value: n }
      : { ok: false, expected: `an integer from ${min} to ${max}` };
  };
const fraction: Parser<number> = (raw) => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
  return Number.isFinite(n) && n > 0 && n <= 1
    ? { ok: true, value: n }
    : { ok: false, expected: "a number in (0, 1]" };
};
const bytes =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const m = /^(\d+)\s*(B|KiB|MiB)?$/.exec(String(raw).trim());
    const mult = { B: 1, KiB: 1024, MiB: 1024 * 1024 }[m?.[2] ?? "B"] ?? 1;
    const n = m ? Number(m[1]) * mult : NaN;
    return n >= min && n <= max
      ? { ok: true, value: n }
      : { ok: false, expected: `a size from ${min} to ${max} bytes (e.g. 4MiB)` };
  };
const address: Parser<Address> = (raw) => {
  const a = parseAddress(String(raw));
  return a ? { ok: true, value: a } : { ok: false, expected: "host:port" };
};
const fmtAddr = (a: Address) =>
  a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
const text: Parser<string> = (raw) =>
  typeof raw === "string" || typeof raw === "number"
    ? { ok: true, value: String(raw) }
    : { ok: false, expected: "a string" };
const boolean: Parser<boolean> = (raw) => {
  const s = String(raw).trim().toLowerCase();
  return s === "true" || s === "false"
    ? { ok: true, value: s === "true" }
    : { ok: false, expected: "true or false" };
};
const rate: Parser<number> = (raw) => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : NaN;
  return Number.isFinite(n) && n >= 0 && n <= 1_000_000
    ? { ok: true, value: n }
    : { ok: false, expected: "a number from 0 (off) to 1000000" };
};
/** Bearer tokens: long enough not to be guessed, and no whitespace to get lost in headers. */
const token: Parser<string> = (raw) => {
  const s = typeof raw === "string" ? raw.trim() : "";
  return s === "" || (s.length >= 16 && s.length <= 4096 && /^[\x21-\x7e]+$/.test(s))
    ? { ok: true, value: s }
    : { ok: false, expected: "16 to 4096 printable ASCII characters without spaces" };
};
/** Keys whose values are secrets and never appear in error messages. */
const SECRET_KEYS = new Set(["auth.api_token", "auth.enroll_token"]);
const pgUrl: Parser<string | undefined> = (raw) => {
  const s = String(raw);
  return /^postgres(ql)?:\/\//.test(s)
    ? { ok: true, value: s }
    : { ok: false, expected: "a postgres:// URL" };
};
const logLevel: Parser<LogLevel> = (raw) => {
  const s = String(raw).toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(s)
    ? { ok: true, value: s as LogLevel }
    : { ok: false, expected: `one of ${LOG_LEVELS.join(", ")}` };
};

type LimitKey = keyof ManagerLimits;
const limit = (yaml: string, k: LimitKey, max: number, description: string) =>
  key<number>({
    yaml: `limits.${yaml}`,
    description,
    parse: integer(1, max),
    get: (c) => c.limits[k],
    set: (c, v) => {
      c.limits[k] = v;
    },
  });

/** Every configuration key: YAML path, environment variable, default, description. */
export const MANAGER_CONFIG_KEYS: readonly ConfigKeyDoc[] = [
  key({
    yaml: "grpc.addr",
    env: "FLEET_GRPC_ADDR",
    description: "gRPC listen address (daemons, FleetService, grpc.health.v1)",
    parse: address,
    get: (c) => c.grpcAddr,
    set: (c, v) => {
      c.grpcAddr = v;
    },
    format: fmtAddr,
  }),
  key({
    yaml: "grpc.fast_path",
    description:
      "Serve ManagerService unary calls on the lean node:http2 gRPC path (about 5x connect-node's rate, same protocol); false uses connect-node",
    parse: boolean,
    get: (c) => c.grpcFastPath,
    set: (c, v) => {
      c.grpcFastPath = v;
    },
  }),
  key({
    yaml: "grpc.goaway_after_not_found",
    description:
      "NOT_FOUND answers on one HTTP/2 connection after which the manager closes it gracefully (GOAWAY), so daemons of the existing Go system, which register only when they connect, come back by themselves; 0 = never",
    parse: integer(0, 1_000_000),
    get: (c) => c.grpcGoawayAfterNotFound,
    set: (c, v) => {
      c.grpcGoawayAfterNotFound = v;
    },
  }),
  key({
    yaml: "http.addr",
    env: "FLEET_HTTP_ADDR",
    description: "HTTP listen address (dashboard, Connect JSON API, /healthz, /readyz, /metrics)",
    parse: address,
    get: (c) => c.httpAddr,
    set: (c, v) => {
      c.httpAddr = v;
    },
    format: fmtAddr,
  }),
  key({
    yaml: "database.url",
    env: "DATABASE_URL",
    description: "PostgreSQL URL; unset uses embedded PGlite under database.data_dir",
    parse: pgUrl,
    get: (c) => c.databaseUrl,
    set: (c, v) => {
      c.databaseUrl = v;
    },
    format: (v) => v ?? "",
  }),
  key({
    yaml: "database.data_dir",
    env: "FLEET_DATA_DIR",
    description: "PGlite data directory when database.url is unset",
    parse: text,
    get: (c) => c.dataDir,
    set: (c, v) => {
      c.dataDir = v;
    },
  }),
  key({
    yaml: "database.pool_size",
    description:
      "PostgreSQL connection pool size per manager (at least 4: ingest, heartbeat flushes, the sweeper and queries share it)",
    parse: integer(4, 1000),
    get: (c) => c.databasePoolSize,
    set: (c, v) => {
      c.databasePoolSize = v;
    },
  }),
  key({
    yaml: "database.start_timeout",
    description:
      "How long a starting manager retries an unreachable database (one log line per try) before it exits 1; 0 exits at once",
    parse: durationMs(0, 3_600_000),
    get: (c) => c.databaseStartTimeoutMs,
    set: (c, v) => {
      c.databaseStartTimeoutMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "log_level",
    env: "FLEET_LOG_LEVEL",
    description: "Log level of the JSON logs on stderr",
    parse: logLevel,
    get: (c) => c.logLevel,
    set: (c, v) => {
      c.logLevel = v;
    },
  }),
  key({
    yaml: "heartbeat.interval",
    description:
      "Heartbeat interval asked of daemons that do not say theirs (the existing Go daemons); ours send their manager.heartbeat_interval and get max(it, floor)",
    parse: durationS(1, 3600),
    get: (c) => c.heartbeatIntervalSeconds,
    set: (c, v) => {
      c.heartbeatIntervalSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "heartbeat.min_interval",
    description:
      "Smallest heartbeat interval the manager accepts: floor = max(min_interval, nodes / max_per_second)",
    parse: durationS(1, 3600),
    get: (c) => c.heartbeat.minIntervalSeconds,
    set: (c, v) => {
      c.heartbeat.minIntervalSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "heartbeat.max_per_second",
    description:
      "Fleet-wide heartbeat budget; the floor grows to nodes / max_per_second (a large fleet is slowed down)",
    parse: integer(1, 1_000_000),
    get: (c) => c.heartbeat.maxPerSecond,
    set: (c, v) => {
      c.heartbeat.maxPerSecond = v;
    },
  }),
  key({
    yaml: "heartbeat.flush_interval",
    description: "How often coalesced last_seen updates are written, in one statement",
    parse: durationMs(10, 1000),
    get: (c) => c.heartbeat.flushIntervalMs,
    set: (c, v) => {
      c.heartbeat.flushIntervalMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "heartbeat.known_node_ttl",
    description: "How long a node known from memory is trusted before the database is asked again",
    parse: durationMs(1000, 86_400_000),
    get: (c) => c.heartbeat.knownNodeTtlMs,
    set: (c, v) => {
      c.heartbeat.knownNodeTtlMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "liveness.grace_period",
    description:
      "Silence after which a node is offline, the same for every node; 0s means per node: grace_multiplier × max(its interval, its observed cadence)",
    parse: durationS(0, 86_400),
    get: (c) => c.liveness.gracePeriodSeconds,
    set: (c, v) => {
      c.liveness.gracePeriodSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "liveness.grace_multiplier",
    description:
      "Grace period in heartbeat intervals (the node's own: announced or observed, whichever is longer), when grace_period is 0s",
    parse: integer(2, 100),
    get: (c) => c.liveness.graceMultiplier,
    set: (c, v) => {
      c.liveness.graceMultiplier = v;
    },
  }),
  key({
    yaml: "liveness.sweep_interval",
    description: "How often the sweeping replica checks liveness",
    parse: durationMs(50, 600_000),
    get: (c) => c.liveness.sweepIntervalMs,
    set: (c, v) => {
      c.liveness.sweepIntervalMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "liveness.mass_miss_fraction",
    description:
      "Share of online nodes missing at once that holds transitions (manager suspects itself)",
    parse: fraction,
    get: (c) => c.liveness.massMissFraction,
    set: (c, v) => {
      c.liveness.massMissFraction = v;
    },
  }),
  key({
    yaml: "liveness.mass_miss_min_nodes",
    description: "Online nodes needed before mass-miss suspicion applies",
    parse: integer(1, 10_000_000),
    get: (c) => c.liveness.massMissMinNodes,
    set: (c, v) => {
      c.liveness.massMissMinNodes = v;
    },
  }),
  key({
    yaml: "liveness.flap_window",
    description: "Window in which status transitions are counted for flapping",
    parse: durationS(10, 86_400),
    get: (c) => c.liveness.flapWindowSeconds,
    set: (c, v) => {
      c.liveness.flapWindowSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "liveness.flap_enter",
    description: "Transitions within flap_window that mark a node flapping",
    parse: integer(2, 1000),
    get: (c) => c.liveness.flapEnterTransitions,
    set: (c, v) => {
      c.liveness.flapEnterTransitions = v;
    },
  }),
  key({
    yaml: "liveness.flap_exit",
    description:
      "Transitions within flap_window at or below which flapping clears (below flap_enter)",
    parse: integer(0, 999),
    get: (c) => c.liveness.flapExitTransitions,
    set: (c, v) => {
      c.liveness.flapExitTransitions = v;
    },
  }),
  key({
    yaml: "liveness.forget_after",
    description:
      "Nodes offline for longer are deleted with their metrics (a `deleted` event says why), e.g. 7d; 0s = never",
    parse: durationS(0, 3650 * 86_400),
    get: (c) => c.liveness.forgetAfterSeconds,
    set: (c, v) => {
      c.liveness.forgetAfterSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "liveness.ephemeral_forget_after",
    description:
      "Nodes registered with fleet-daemon --ephemeral are deleted with their metrics after this long offline; 0s = never",
    parse: durationS(0, 3650 * 86_400),
    get: (c) => c.liveness.ephemeralForgetAfterSeconds,
    set: (c, v) => {
      c.liveness.ephemeralForgetAfterSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "ingest.batch_window",
    description: "How long ReportMetrics waits to merge concurrent requests into one statement",
    parse: durationMs(0, 1000),
    get: (c) => c.ingest.batchWindowMs,
    set: (c, v) => {
      c.ingest.batchWindowMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "ingest.max_batch_rows",
    description: "Most metric rows in one group-commit statement",
    parse: integer(1, 1_000_000),
    get: (c) => c.ingest.maxBatchRows,
    set: (c, v) => {
      c.ingest.maxBatchRows = v;
    },
  }),
  key({
    yaml: "ingest.max_concurrent_batches",
    description: "Group-commit statements running at once",
    parse: integer(1, 256),
    get: (c) => c.ingest.maxConcurrentBatches,
    set: (c, v) => {
      c.ingest.maxConcurrentBatches = v;
    },
  }),
  key({
    yaml: "ingest.max_pending_rows",
    description: "Queued rows beyond which ReportMetrics answers UNAVAILABLE (overload)",
    parse: integer(1, 100_000_000),
    get: (c) => c.ingest.maxPendingRows,
    set: (c, v) => {
      c.ingest.maxPendingRows = v;
    },
  }),
  key({
    yaml: "retention.days",
    description:
      "Days of metrics kept; older daily partitions are dropped, and older samples rejected",
    parse: integer(1, 3650),
    get: (c) => c.retention.days,
    set: (c, v) => {
      c.retention.days = v;
    },
  }),
  key({
    yaml: "retention.partitions_ahead",
    description: "Daily metrics partitions created ahead of today",
    parse: integer(1, 60),
    get: (c) => c.retention.partitionsAhead,
    set: (c, v) => {
      c.retention.partitionsAhead = v;
    },
  }),
  key({
    yaml: "retention.maintenance_interval",
    description: "How often partitions are created ahead and dropped past retention",
    parse: durationMs(1000, 86_400_000),
    get: (c) => c.retention.maintenanceIntervalMs,
    set: (c, v) => {
      c.retention.maintenanceIntervalMs = v;
    },
    format: fmtMs,
  }),
  limit(
    "node_id_max_length",
    "nodeIdMaxLength",
    1024,
    "Longest node_id (characters of [A-Za-z0-9._:-])",
  ),
  limit("hostname_max_length", "hostnameMaxLength", 4096, "Longest hostname"),
  limit(
    "text_max_length",
    "textMaxLength",
    4096,
    "Longest os, arch, daemon_version and agent_version",
  ),
  limit("labels_max_pairs", "labelsMaxPairs", 1024, "Most label pairs on a node or metric"),
  limit(
    "label_key_max_length",
    "labelKeyMaxLength",
    1024,
    "Longest label key (Prometheus label name)",
  ),
  limit("label_value_max_length", "labelValueMaxLength", 4096, "Longest label value"),
  limit(
    "metric_type_max_length",
    "metricTypeMaxLength",
    1024,
    "Longest metric type ([a-z][a-z0-9_]*)",
  ),
  limit("values_per_metric_max", "valuesPerMetricMax", 100_000, "Most values in one metric entry"),
  limit("value_name_max_length", "valueNameMaxLength", 1024, "Longest value name"),
  limit(
    "metrics_per_request_max",
    "metricsPerRequestMax",
    1_000_000,
    "Most metric entries in one ReportMetrics request",
  ),
  key({
    yaml: "limits.max_future",
    description: "How far in the future a sample's timestamp may lie (daemon clock skew)",
    parse: durationS(0, 86_400),
    get: (c) => c.limits.maxFutureSeconds,
    set: (c, v) => {
      c.limits.maxFutureSeconds = v;
    },
    format: (v) => fmtMs(v * 1000),
  }),
  key({
    yaml: "limits.request_max_bytes",
    description: "Largest request body (gRPC readMaxBytes); larger is RESOURCE_EXHAUSTED",
    parse: bytes(1024, 256 * 1024 * 1024),
    get: (c) => c.limits.requestMaxBytes,
    set: (c, v) => {
      c.limits.requestMaxBytes = v;
    },
    format: (v) => (v % 1048576 === 0 ? `${v / 1048576}MiB` : `${v}B`),
  }),
  key({
    yaml: "limits.max_timeout",
    description:
      "Longest deadline a client may ask for (grpc-timeout, connect-timeout-ms); longer is INVALID_ARGUMENT, on every RPC path",
    parse: durationMs(1000, 86_400_000),
    get: (c) => c.maxTimeoutMs,
    set: (c, v) => {
      c.maxTimeoutMs = v;
    },
    format: fmtMs,
  }),
  key({
    yaml: "shutdown.timeout",
    description: "How long SIGTERM waits for in-flight requests before closing connections",
    parse: durationMs(0, 600_000),
    get: (c) => c.shutdown.timeoutMs,
    set: (c, v) => {
      c.shutdown.timeoutMs = v;
    },
    format: fmtMs,
  }),
  ...tlsAuthAdmissionKeys(),
] satisfies readonly ConfigKey[];

function tlsAuthAdmissionKeys(): ConfigKey[] {
  const file = (
    yaml: string,
    env: string,
    k: "certFile" | "keyFile" | "clientCaFile",
    description: string,
  ) =>
    key<string>({
      yaml,
      env,
      description,
      parse: text,
      get: (c) => c.tls[k],
      set: (c, v) => {
        c.tls[k] = v;
      },
    });
  const adm = <K extends keyof ManagerConfig["admission"]>(
    yaml: string,
    k: K,
    parse: Parser<number>,
    description: string,
    format?: (v: number) => string,
  ) =>
    key<number>({
      yaml: `admission.${yaml}`,
      description,
      parse,
      get: (c) => c.admission[k],
      set: (c, v) => {
        c.admission[k] = v;
      },
      ...(format ? { format } : {}),
    });
  return [
    file(
      "tls.cert",
      "FLEET_TLS_CERT",
      "certFile",
      "Server certificate (PEM); with tls.key, both ports speak TLS",
    ),
    file("tls.key", "FLEET_TLS_KEY", "keyFile", "Server private key (PEM)"),
    file(
      "tls.client_ca",
      "FLEET_TLS_CLIENT_CA",
      "clientCaFile",
      "CA (PEM) that signs daemon certificates; set: the gRPC port requires a client certificate (mTLS)",
    ),
    key<number>({
      yaml: "tls.reload_interval",
      description:
        "How often the TLS files are checked for a renewal (besides watching their folder); new pairs apply to new connections",
      parse: durationMs(100, 3_600_000),
      get: (c) => c.tls.reloadIntervalMs,
      set: (c, v) => {
        c.tls.reloadIntervalMs = v;
      },
      format: fmtMs,
    }),
    key<number>({
      yaml: "tls.expiry_window",
      description:
        "Certificates (server, client CA, nodes') expiring within this are warned about at start and flagged on nodes",
      parse: durationS(0, 3650 * 86_400),
      get: (c) => c.tls.expiryWindowSeconds,
      set: (c, v) => {
        c.tls.expiryWindowSeconds = v;
      },
      format: (v) => (v % 86_400 === 0 ? `${v / 86_400}d` : fmtMs(v * 1000)),
    }),
    key<number>({
      yaml: "identity.conflict_hold",
      description:
        "How long a node stays flagged identity_conflict after two daemons were last seen using its node_id",
      parse: durationS(1, 30 * 86_400),
      get: (c) => c.identity.conflictHoldSeconds,
      set: (c, v) => {
        c.identity.conflictHoldSeconds = v;
      },
      format: (v) => fmtMs(v * 1000),
    }),
    key<boolean>({
      yaml: "identity.detect_conflicts",
      description:
        "Flag a node_id served by two daemons at once (peers alternating); false behind a proxy that spreads one daemon's calls over several addresses without passing client certificates",
      parse: boolean,
      get: (c) => c.identity.detectConflicts,
      set: (c, v) => {
        c.identity.detectConflicts = v;
      },
    }),
    key<string>({
      yaml: "auth.api_token",
      env: "FLEET_API_TOKEN",
      description:
        "Bearer token for FleetService (both ports), the dashboard's API, /metrics and /metrics/fleet",
      parse: token,
      get: (c) => c.auth.apiToken,
      set: (c, v) => {
        c.auth.apiToken = v;
      },
    }),
    key<string>({
      yaml: "auth.enroll_token",
      env: "FLEET_ENROLL_TOKEN",
      description: "Bearer token daemons must send on ManagerService (their manager.token_file)",
      parse: token,
      get: (c) => c.auth.enrollToken,
      set: (c, v) => {
        c.auth.enrollToken = v;
      },
    }),
    key<boolean>({
      yaml: "auth.bind_node_identity",
      description:
        "With mTLS, node_id must equal the client certificate's identity (SAN spiffe://fleet/node/<id>, else CN); false for fleets sharing one certificate",
      parse: boolean,
      get: (c) => c.auth.bindNodeIdentity,
      set: (c, v) => {
        c.auth.bindNodeIdentity = v;
      },
    }),
    adm(
      "heartbeats_per_second",
      "heartbeatsPerSecond",
      rate,
      "Per-node Heartbeat rate (token bucket); beyond it RESOURCE_EXHAUSTED; 0 = off",
    ),
    adm(
      "heartbeat_burst",
      "heartbeatBurst",
      integer(1, 1_000_000),
      "Per-node Heartbeat burst (bucket size)",
    ),
    adm(
      "reports_per_second",
      "reportsPerSecond",
      rate,
      "Per-node ReportMetrics and RegisterNode rate; beyond it RESOURCE_EXHAUSTED; 0 = off",
    ),
    adm(
      "report_burst",
      "reportBurst",
      integer(1, 1_000_000),
      "Per-node ReportMetrics and RegisterNode burst",
    ),
    adm(
      "max_in_flight",
      "maxInFlight",
      integer(1, 1_000_000),
      "Unary calls in flight beyond which new calls get UNAVAILABLE at once",
    ),
    adm(
      "tracked_nodes_max",
      "trackedNodesMax",
      integer(100, 100_000_000),
      "Most per-node rate buckets kept in memory",
    ),
    adm(
      "pushback_min",
      "pushbackMinMs",
      durationMs(0, 600_000),
      "Shortest grpc-retry-pushback-ms on a shed answer",
      fmtMs,
    ),
    adm(
      "pushback_spread",
      "pushbackSpreadMs",
      durationMs(0, 3_600_000),
      "Shed answers add hash(node_id) × spread, so a restarted manager sees the fleet return as a ramp",
      fmtMs,
    ),
    adm(
      "max_concurrent_streams",
      "maxConcurrentStreams",
      integer(1, 1_000_000),
      "HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS on the gRPC port",
    ),
    adm(
      "max_header_list_size",
      "maxHeaderListSize",
      bytes(1024, 1024 * 1024),
      "HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE on the gRPC port (and the HTTP port's header limit)",
      (v) => (v % 1024 === 0 ? `${v / 1024}KiB` : `${v}B`),
    ),
    adm(
      "idle_timeout",
      "idleTimeoutMs",
      durationMs(1000, 86_400_000),
      "A connection without traffic for this long is closed, on both ports (daemons reconnect at their next call)",
      fmtMs,
    ),
    adm(
      "first_request_timeout",
      "firstRequestTimeoutMs",
      durationMs(500, 600_000),
      "A connection that has not finished TLS or sent its first request by then is closed (idle-connection floods)",
      fmtMs,
    ),
  ];
}

export interface LoadManagerConfigInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
}

/**
 * Defaults, then the YAML file (`--config`), then the environment (DESIGN §3).
 * Pure: tests pass argv/env/readFile. Throws one ConfigError listing every problem.
 */
export function loadManagerConfig(input: LoadManagerConfigInput): Readonly<ManagerConfig> {
  const problems: string[] = [];
  const cfg: ManagerConfig = structuredClone(MANAGER_DEFAULTS);
  const { file, path: configPath } = readConfigFile(input.argv, input.readFile);

  for (const k of MANAGER_CONFIG_KEYS as readonly ConfigKey[]) {
    const envValue = k.env ? input.env[k.env] : undefined;
    let raw: unknown;
    let source: string;
    if (envValue !== undefined && envValue !== "") {
      raw = envValue;
      source = `env ${k.env}`;
    } else {
      raw = getPath(file, k.yaml);
      source = configPath as string;
      if (raw === undefined || raw === null) continue;
    }
    const expected = k.apply(cfg, raw);
    if (expected !== undefined) {
      const shown = SECRET_KEYS.has(k.yaml)
        ? "***"
        : k.yaml === "database.url"
          ? String(raw).replace(/:[^:@/]*@/, ":***@")
          : raw;
      problems.push(`${k.yaml} (${source}): expected ${expected}, got ${JSON.stringify(shown)}`);
    }
  }
  // YAML keys nobody reads are mistakes (a typo silently keeping a default).
  problems.push(
    ...checkConfigKeys(file, {
      source: configPath ?? "",
      known: (MANAGER_CONFIG_KEYS as readonly ConfigKey[]).map((k) => k.yaml),
    }).problems,
  );

  if (cfg.liveness.flapExitTransitions >= cfg.liveness.flapEnterTransitions) {
    problems.push(
      `liveness.flap_exit: must be below liveness.flap_enter (${cfg.liveness.flapEnterTransitions}), got ${cfg.liveness.flapExitTransitions}`,
    );
  }
  if (
    cfg.liveness.gracePeriodSeconds !== 0 &&
    cfg.liveness.gracePeriodSeconds < cfg.heartbeatIntervalSeconds
  ) {
    problems.push(
      `liveness.grace_period: must be 0s or at least heartbeat.interval (${cfg.heartbeatIntervalSeconds}s), got ${cfg.liveness.gracePeriodSeconds}s`,
    );
  }

  // A full-size request must fit an empty queue, or it would be refused forever.
  if (cfg.ingest.maxPendingRows < cfg.limits.metricsPerRequestMax) {
    problems.push(
      `ingest.max_pending_rows: must be at least limits.metrics_per_request_max (${cfg.limits.metricsPerRequestMax}), got ${cfg.ingest.maxPendingRows}`,
    );
  }

  cfg.insecure = input.argv.includes("--insecure");
  problems.push(...tlsProblems(cfg.tls, input.readFile));

  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(cfg);
}

/** The TLS files come as a set (a half-set is never a silent plaintext fallback) and must be readable now. */
function tlsProblems(tls: ManagerConfig["tls"], readFile: (path: string) => string): string[] {
  const out: string[] = [];
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    out.push(
      `tls: cert (FLEET_TLS_CERT) and key (FLEET_TLS_KEY) must be set together, got only ${tls.certFile ? "cert" : "key"}`,
    );
  }
  if (tls.clientCaFile && !(tls.certFile && tls.keyFile)) {
    out.push("tls.client_ca (FLEET_TLS_CLIENT_CA): needs tls.cert and tls.key as well");
  }
  for (const [name, path] of [
    ["tls.cert", tls.certFile],
    ["tls.key", tls.keyFile],
    ["tls.client_ca", tls.clientCaFile],
  ] as const) {
    if (!path) continue;
    try {
      readFile(path);
    } catch (err) {
      out.push(
        `${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  return out;
}

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * Secure by default (DESIGN §3): a port listening beyond loopback needs
 * authentication for everything it serves. FleetService is on both ports, so
 * both need FLEET_API_TOKEN; the gRPC port also needs mTLS or
 * FLEET_ENROLL_TOKEN for ManagerService. One line naming what is missing, or
 * undefined when the configuration is safe or `--insecure` was given.
 */
export function insecureListenerProblem(config: Readonly<ManagerConfig>): string | undefined {
  if (config.insecure) return undefined;
  const missing: string[] = [];
  const mtls = Boolean(config.tls.certFile && config.tls.keyFile && config.tls.clientCaFile);
  for (const [port, addr] of [
    ["gRPC", config.grpcAddr],
    ["HTTP", config.httpAddr],
  ] as const) {
    if (isLoopback(addr.host)) continue;
    const needs: string[] = [];
    if (port === "gRPC" && !mtls && !config.auth.enrollToken) {
      needs.push("FLEET_TLS_CERT/KEY/CLIENT_CA or FLEET_ENROLL_TOKEN");
    }
    if (!config.auth.apiToken) needs.push("FLEET_API_TOKEN");
    if (needs.length) missing.push(`${port} ${fmtAddr(addr)} needs ${needs.join(" and ")}`);
  }
  return missing.length
    ? `refusing to listen beyond loopback without authentication: ${missing.join("; ")} (or pass --insecure)`
    : undefined;
}

/** The validation limits in force, with the retention window from `retention.days`. */
export function validationLimits(config: Readonly<ManagerConfig>): ValidationLimits {
  return { ...config.limits, maxAgeSeconds: config.retention.days * 86_400 };
}
