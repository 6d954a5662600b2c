import { parseArgs } from "node:util";
import { checkConfigKeys } from "../common/config-keys-check.js";
import {
  deepFreeze,
  getPath,
  parseDurationMs,
  parseSizeBytes,
  readConfigFile,
} from "../common/config-load.js";
import { ConfigError } from "../common/errors.js";
import { LOG_LEVELS, type LogLevel } from "../common/logging.js";
import type { Labels } from "../common/types.js";
import { checkLabels, type ValidationLimits, validateNodeId } from "../common/validation.js";

export interface CollectorConfig {
  enabled: boolean;
  intervalMs: number;
}

export type DaemonCommand = "run" | "once" | "status" | "reset-id";

export interface DaemonConfig {
  id: string;
  logLevel: LogLevel;
  workDir: string;
  /** Node labels sent on every RegisterNode: `daemon.labels`, with FLEET_LABELS merged over it. */
  labels: Labels;
  /** `--ephemeral`: the manager forgets this node soon after it goes offline. */
  ephemeral: boolean;
  /** Keys of the existing system's daemon.yaml that Fleet accepts but does not implement (one line each). */
  warnings: string[];
  /** Spool bound; the oldest batches are dropped beyond it (extension key `daemon.spool_max_bytes`). */
  spoolMaxBytes: number;
  manager: {
    /** host:port of the manager's gRPC port. */
    address: string;
    tls: { certFile: string; keyFile: string; caFile: string } | undefined;
    /** How often the TLS files are checked for a renewal (besides watching their folder). */
    tlsReloadIntervalMs: number;
    /** Enrollment token file, sent as `Authorization: Bearer` on every call; checked readable at start. */
    tokenFile: string;
    heartbeatIntervalMs: number;
    reconnectIntervalMs: number;
    timeoutMs: number;
  };
  collectors: {
    cpu: CollectorConfig;
    memory: CollectorConfig;
    disk: CollectorConfig & { mountPoints: string[] };
    network: CollectorConfig & { interfaces: string[] };
  };
  command: DaemonCommand;
}

export const DAEMON_DEFAULTS: DaemonConfig = {
  id: "",
  logLevel: "info",
  workDir: "/var/lib/fleet-daemon",
  labels: {},
  ephemeral: false,
  warnings: [],
  spoolMaxBytes: 64 * 1024 * 1024,
  manager: {
    address: "127.0.0.1:9090",
    tls: undefined,
    tlsReloadIntervalMs: 10_000,
    tokenFile: "",
    heartbeatIntervalMs: 60_000,
    reconnectIntervalMs: 10_000,
    timeoutMs: 30_000,
  },
  collectors: {
    cpu: { enabled: true, intervalMs: 60_000 },
    memory: { enabled: true, intervalMs: 60_000 },
    disk: { enabled: true, intervalMs: 60_000, mountPoints: [] },
    network: { enabled: true, intervalMs: 60_000, interfaces: [] },
  },
  command: "run",
};

export interface LoadDaemonConfigInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
}

/**
 * The manager's default limits for node ids and labels (limits.*); the daemon
 * checks its id and labels against them at start, not at every call.
 */
const MANAGER_LIMITS = {
  nodeIdMaxLength: 128,
  labelsMaxPairs: 64,
  labelKeyMaxLength: 63,
  labelValueMaxLength: 255,
} as ValidationLimits;

/**
 * Keys of the existing Go system's daemon.yaml that Fleet does not implement
 * (DESIGN §3): accepted with one warning each, so an existing file works unchanged.
 */
export const UNIMPLEMENTED_KEYS: readonly { key: string; why: string }[] = [
  {
    key: "daemon.log_file",
    why: "not implemented: fleet-daemon logs JSON to stderr (journald keeps it)",
  },
  { key: "daemon.pid_file", why: "not implemented: run it under systemd or another supervisor" },
  { key: "daemon.grpc_port", why: "not implemented: fleet-daemon serves no gRPC port" },
  {
    key: "daemon.http_port",
    why: "not implemented: fleet-daemon serves no HTTP port (see fleet-daemon status)",
  },
  { key: "daemon.pprof_*", why: "not implemented: no pprof in a Node.js daemon" },
  { key: "daemon.max_procs", why: "not implemented: Node.js has no GOMAXPROCS" },
  { key: "agent", why: "not implemented: Fleet has no agents" },
  { key: "agents", why: "not implemented: Fleet has no agents" },
  { key: "agent_defaults", why: "not implemented: Fleet has no agents" },
  { key: "update", why: "not implemented: update fleet-daemon with its package" },
];

const FLAGS = {
  config: { type: "string" },
  once: { type: "boolean" },
  "log-level": { type: "string" },
  "work-dir": { type: "string" },
  ephemeral: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * The command line, strictly: an unknown flag, a flag without its value or a
 * stray argument is a ConfigError naming it (exit 2), never silently ignored.
 */
export function parseDaemonArgv(argv: readonly string[]) {
  const resetId = argv[0] === "reset-id";
  const status = argv[0] === "status" || resetId;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({
      args: argv.slice(status ? 1 : 0),
      options: FLAGS,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // Node's messages name the flag ("Unknown option '--confg'", "Option '--config <value>' argument missing").
    const first = (err as Error).message.split(/\.\s|\n/)[0];
    throw new ConfigError([`command line: ${first} (fleet-daemon --help lists the flags)`]);
  }
  const problems: string[] = [];
  for (const name of ["config", "log-level", "work-dir"] as const) {
    if (parsed.values[name] === "") problems.push(`--${name}: expected a value, got ""`);
  }
  const [stray] = parsed.positionals;
  if (stray !== undefined)
    problems.push(
      `command line: unexpected argument "${stray}" (the commands are "status" and "reset-id", given first)`,
    );
  if (problems.length) throw new ConfigError(problems);
  return { ...parsed.values, status: status && !resetId, resetId };
}

/** Defaults, then YAML (`--config`, the existing system's keys), then env, then flags. */
export function loadDaemonConfig(input: LoadDaemonConfigInput): Readonly<DaemonConfig> {
  const problems: string[] = [];
  const cfg: DaemonConfig = structuredClone(DAEMON_DEFAULTS);
  const flags = parseDaemonArgv(input.argv);
  const { file, path: configPath } = readConfigFile(
    flags.config === undefined ? [] : ["--config", flags.config],
    input.readFile,
  );
  const src = configPath ?? "";
  const str = (key: string, set: (v: string) => void) => {
    const v = getPath(file, key);
    if (v === undefined || v === null) return;
    if (typeof v !== "string")
      problems.push(`${key} (${src}): expected a string, got ${JSON.stringify(v)}`);
    else set(v);
  };
  const dur = (key: string, min: number, set: (ms: number) => void) => {
    const v = getPath(file, key);
    if (v === undefined || v === null) return;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < min) {
      problems.push(
        `${key} (${src}): expected a duration of at least ${min}ms such as "60s", got ${JSON.stringify(v)}`,
      );
    } else set(ms);
  };
  const level = (value: string, source: string) => {
    const l = value.toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(l)) cfg.logLevel = l as LogLevel;
    else
      problems.push(
        `daemon.log_level (${source}): expected one of ${LOG_LEVELS.join(", ")}, got "${value}"`,
      );
  };

  let idSource = "";
  str("daemon.id", (v) => {
    cfg.id = v;
    idSource = `daemon.id (${src})`;
  });
  str("daemon.log_level", (v) => level(v, src));
  str("daemon.work_dir", (v) => {
    cfg.workDir = v;
  });
  str("manager.address", (v) => {
    cfg.manager.address = v;
  });
  dur("manager.heartbeat_interval", 1000, (ms) => {
    cfg.manager.heartbeatIntervalMs = ms;
  });
  dur("manager.reconnect_interval", 100, (ms) => {
    cfg.manager.reconnectIntervalMs = ms;
  });
  dur("manager.timeout", 100, (ms) => {
    cfg.manager.timeoutMs = ms;
  });
  const tls = { certFile: "", keyFile: "", caFile: "" };
  str("manager.tls.cert_file", (v) => {
    tls.certFile = v;
  });
  str("manager.tls.key_file", (v) => {
    tls.keyFile = v;
  });
  str("manager.tls.ca_file", (v) => {
    tls.caFile = v;
  });
  dur("manager.tls.reload_interval", 100, (ms) => {
    cfg.manager.tlsReloadIntervalMs = ms;
  });
  const tlsSet = [tls.certFile, tls.keyFile, tls.caFile].filter(Boolean).length;
  if (tlsSet === 3) cfg.manager.tls = tls;
  else if (tlsSet > 0) {
    const missing = (["cert_file", "key_file", "ca_file"] as const).filter(
      (_, i) => ![tls.certFile, tls.keyFile, tls.caFile][i],
    );
    problems.push(
      `manager.tls (${src}): cert_file, key_file and ca_file must be set together, missing ${missing.join(", ")} (never a silent downgrade to plaintext)`,
    );
  }
  str("manager.token_file", (v) => {
    cfg.manager.tokenFile = v;
  });
  // A file named in the config must be readable now, not at the first connection.
  const readable = (key: string, path: string) => {
    if (!path) return;
    try {
      input.readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push(`${key} (${src}): cannot read "${path}" (${code})`);
    }
  };
  readable("manager.tls.cert_file", tls.certFile);
  readable("manager.tls.key_file", tls.keyFile);
  readable("manager.tls.ca_file", tls.caFile);
  readable("manager.token_file", cfg.manager.tokenFile);
  const spoolMax = getPath(file, "daemon.spool_max_bytes");
  if (spoolMax !== undefined && spoolMax !== null) {
    const n = parseSizeBytes(spoolMax);
    if (n === undefined || n < 65_536)
      problems.push(
        `daemon.spool_max_bytes (${src}): expected a size of at least 64KiB such as "64MiB" (B, KiB, MiB or bare bytes), got ${JSON.stringify(spoolMax)}`,
      );
    else cfg.spoolMaxBytes = n;
  }

  const fileLabels = getPath(file, "daemon.labels");
  if (fileLabels !== undefined && fileLabels !== null) {
    if (typeof fileLabels !== "object" || Array.isArray(fileLabels)) {
      // Reported by checkConfigKeys ("expected a mapping").
    } else {
      for (const [k, v] of Object.entries(fileLabels as Record<string, unknown>)) {
        if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
          cfg.labels[k] = String(v);
        else
          problems.push(
            `daemon.labels.${k} (${src}): expected a string value, got ${JSON.stringify(v)}`,
          );
      }
    }
  }

  const strict = checkConfigKeys(file, {
    source: src,
    known: DAEMON_YAML_KEYS,
    maps: ["daemon.labels"],
    accepted: UNIMPLEMENTED_KEYS,
  });
  cfg.warnings = strict.warnings;
  const collectors = getPath(file, "collectors");
  const unknownCollectors =
    collectors && typeof collectors === "object"
      ? Object.keys(collectors).filter((name) => !(name in cfg.collectors))
      : [];
  // An unknown collector gets its own message below, listing the known ones.
  problems.push(
    ...strict.problems.filter(
      (p) => !unknownCollectors.some((name) => p.startsWith(`collectors.${name}`)),
    ),
  );
  if (collectors && typeof collectors === "object") {
    for (const name of Object.keys(collectors)) {
      if (!(name in cfg.collectors)) {
        problems.push(
          `collectors.${name} (${src}): unknown collector; known: ${Object.keys(cfg.collectors).join(", ")}`,
        );
      }
    }
  }
  for (const name of ["cpu", "memory", "disk", "network"] as const) {
    const enabled = getPath(file, `collectors.${name}.enabled`);
    if (enabled !== undefined && enabled !== null) {
      if (typeof enabled !== "boolean")
        problems.push(
          `collectors.${name}.enabled (${src}): expected true or false, got ${JSON.stringify(enabled)}`,
        );
      else cfg.collectors[name].enabled = enabled;
    }
    dur(`collectors.${name}.interval`, 1000, (ms) => {
      cfg.collectors[name].intervalMs = ms;
    });
  }
  const list = (key: string, set: (v: string[]) => void) => {
    const v = getPath(file, key);
    if (v === undefined || v === null) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      problems.push(`${key} (${src}): expected a list of strings`);
    else set(v as string[]);
  };
  list("collectors.disk.mount_points", (v) => {
    cfg.collectors.disk.mountPoints = v;
  });
  list("collectors.network.interfaces", (v) => {
    cfg.collectors.network.interfaces = v;
  });

  // Environment, as the existing system reads it.
  if (input.env.MANAGER_ADDRESS) cfg.manager.address = input.env.MANAGER_ADDRESS;
  if (input.env.FLEET_LABELS) {
    const parsed = parseLabelList(input.env.FLEET_LABELS);
    if (typeof parsed === "string") problems.push(`env FLEET_LABELS: ${parsed}`);
    else Object.assign(cfg.labels, parsed);
  }
  // The manager's label rules, so a bad label stops the daemon here and not at every registration.
  const labelProblem = checkLabels(
    cfg.labels,
    MANAGER_LIMITS,
    input.env.FLEET_LABELS ? "daemon.labels (with env FLEET_LABELS)" : `daemon.labels (${src})`,
  );
  if (labelProblem) problems.push(labelProblem);
  if (input.env.LOG_LEVEL) level(input.env.LOG_LEVEL, "env LOG_LEVEL");
  if (!cfg.id && input.env.NODE_NAME) {
    cfg.id = input.env.NODE_NAME;
    idSource = "daemon.id (env NODE_NAME)";
  }
  // The same rule the manager applies to node_id, so a bad id stops here and not at every call.
  if (idSource && cfg.id) {
    try {
      validateNodeId(cfg.id, MANAGER_LIMITS, idSource);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }

  // Flags.
  if (flags["log-level"]) level(flags["log-level"], "--log-level");
  if (flags["work-dir"]) cfg.workDir = flags["work-dir"];
  if (flags.once) cfg.command = "once";
  if (flags.ephemeral) cfg.ephemeral = true;
  if (flags.status) cfg.command = "status";
  if (flags.resetId) cfg.command = "reset-id";

  if (!/^[^\s/]+:\d{1,5}$/.test(cfg.manager.address.replace(/^https?:\/\//, ""))) {
    problems.push(`manager.address: expected host:port, got "${cfg.manager.address}"`);
  }
  if (cfg.manager.tls && cfg.manager.address.startsWith("http://")) {
    problems.push(
      `manager.address: "${cfg.manager.address}" is plaintext but manager.tls is set; use host:port or https://`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(cfg);
}

/** Every YAML key the loader reads (config-keys.ts documents the same list). */
export const DAEMON_YAML_KEYS = [
  "daemon.id",
  "daemon.log_level",
  "daemon.work_dir",
  "daemon.spool_max_bytes",
  "manager.address",
  "manager.tls.cert_file",
  "manager.tls.key_file",
  "manager.tls.ca_file",
  "manager.tls.reload_interval",
  "manager.token_file",
  "manager.heartbeat_interval",
  "manager.reconnect_interval",
  "manager.timeout",
  ...(["cpu", "memory", "disk", "network"] as const).flatMap((c) => [
    `collectors.${c}.enabled`,
    `collectors.${c}.interval`,
  ]),
  "collectors.disk.mount_points",
  "collectors.network.interfaces",
];

/** `env=prod,role=web` → labels, or a problem naming the bad part. */
export function parseLabelList(text: string): Labels | string {
  const out: Labels = {};
  for (const part of text.split(",")) {
    const pair = part.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0)
      return `expected key=value pairs separated by commas (env=prod,role=web), got ${JSON.stringify(pair)}`;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
