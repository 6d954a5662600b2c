/**
 * Manager configuration: MANAGER_DEFAULTS, then the YAML file (`--config`),
 * then the environment, then flags (DESIGN §3). The keys are data in
 * config-table*.ts (docs/configuration.md is generated from them); this file
 * holds the types, the defaults and the rules between keys.
 */

import { docRows, loadTable } from "../common/config/table.js";
import { deepFreeze, readConfigFile } from "../common/config-load.js";
import { ConfigError } from "../common/errors.js";
import type { LogLevel } from "../common/logging.js";
import type { ValidationLimits } from "../common/validation.js";
import { insecureListenerProblem, tlsProblems } from "./config-listen.js";
import { MANAGER_TABLE } from "./config-table.js";
import type { AdmissionOptions } from "./services/admission.js";
import type { LivenessOptions } from "./services/liveness.js";

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
  /** Worker processes (node:cluster) sharing the ports; 1 = no cluster. */
  workers: number;
  /** The heartbeat interval asked of daemons that do not say theirs (the existing Go daemons). */
  heartbeatIntervalSeconds: number;
  /** Explicit opt-out of the secure-by-default checks (`--insecure`). */
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
  /** The liveness service's options, as it takes them. */
  liveness: LivenessOptions;
  ingest: {
    /** How long the first request of a batch waits for company. */
    batchWindowMs: number;
    maxBatchRows: number;
    maxConcurrentBatches: number;
    /** Rows queued beyond this are refused with UNAVAILABLE (overload). */
    maxPendingRows: number;
  };
  retention: { days: number; partitionsAhead: number; maintenanceIntervalMs: number };
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
  /** The admission service's options (services/admission.ts), and the connection limits. */
  admission: AdmissionOptions & {
    /** HTTP/2 SETTINGS on the gRPC port. */
    maxConcurrentStreams: number;
    maxHeaderListSize: number;
    /** A connection with no traffic for this long is closed (both ports). */
    idleTimeoutMs: number;
    /** A connection that has not sent a request (or finished TLS) by then is closed. */
    firstRequestTimeoutMs: number;
  };
}

/** The single defaults object, frozen all the way down (copy it with structuredClone). */
export const MANAGER_DEFAULTS: Readonly<ManagerConfig> = deepFreeze<ManagerConfig>({
  grpcAddr: { host: "127.0.0.1", port: 9090 },
  grpcFastPath: true,
  grpcGoawayAfterNotFound: 3,
  httpAddr: { host: "127.0.0.1", port: 8080 },
  databaseUrl: undefined,
  dataDir: "./.fleet",
  databasePoolSize: 10,
  databaseStartTimeoutMs: 60_000,
  logLevel: "info",
  workers: 1,
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
});

export { insecureListenerProblem };

/** Every configuration key: YAML path, environment variable, default, description. */
export const MANAGER_CONFIG_KEYS = docRows(MANAGER_TABLE, MANAGER_DEFAULTS);

export interface LoadManagerConfigInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
  /** The command will listen (serve): the listen policy applies. Default true; false for migrate. */
  listens?: boolean;
}

/**
 * Defaults, then the YAML file (`--config`), then the environment, then flags
 * (DESIGN §3). Pure: tests pass argv/env/readFile. Throws one ConfigError
 * listing every problem, the listen policy's among them.
 */
export function loadManagerConfig(input: LoadManagerConfigInput): Readonly<ManagerConfig> {
  const cfg: ManagerConfig = structuredClone(MANAGER_DEFAULTS) as ManagerConfig;
  const { file, path: configPath } = readConfigFile(input.argv, input.readFile);
  const { problems } = loadTable(MANAGER_TABLE, cfg, {
    file,
    source: configPath ?? "",
    env: input.env,
    flags: { workers: flagValue(input.argv, "--workers") },
  });

  if (cfg.liveness.flapExitTransitions >= cfg.liveness.flapEnterTransitions) {
    problems.push(
      `liveness.flap_exit: must be below liveness.flap_enter (${cfg.liveness.flapEnterTransitions}), got ${cfg.liveness.flapExitTransitions}`,
    );
  }
  const { gracePeriodSeconds } = cfg.liveness;
  if (gracePeriodSeconds !== 0 && gracePeriodSeconds < cfg.heartbeatIntervalSeconds) {
    problems.push(
      `liveness.grace_period: must be 0s or at least heartbeat.interval (${cfg.heartbeatIntervalSeconds}s), got ${gracePeriodSeconds}s`,
    );
  }
  // A full-size request must fit an empty queue, or it would be refused forever.
  if (cfg.ingest.maxPendingRows < cfg.limits.metricsPerRequestMax) {
    problems.push(
      `ingest.max_pending_rows: must be at least limits.metrics_per_request_max (${cfg.limits.metricsPerRequestMax}), got ${cfg.ingest.maxPendingRows}`,
    );
  }
  if (cfg.workers > 1 && !cfg.databaseUrl) {
    problems.push(
      `workers: ${cfg.workers} needs database.url (DATABASE_URL): the embedded PGlite database is single-process`,
    );
  }

  cfg.insecure = input.argv.includes("--insecure");
  problems.push(...tlsProblems(cfg.tls, input.readFile));
  const exposed = input.listens === false ? undefined : insecureListenerProblem(cfg);
  if (exposed) problems.push(exposed);

  if (problems.length) {
    const err = new ConfigError(problems);
    // Alone, the refusal keeps the one line it has always been (`fleet-manager: refusing …`).
    if (problems.length === 1 && exposed) err.message = exposed;
    throw err;
  }
  return deepFreeze(cfg);
}

/** `--name value` or `--name=value`; "" when the flag has no value, so it is reported. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === name) return argv[i + 1] ?? "";
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** The validation limits in force, with the retention window from `retention.days`. */
export function validationLimits(config: Readonly<ManagerConfig>): ValidationLimits {
  return { ...config.limits, maxAgeSeconds: config.retention.days * 86_400 };
}
