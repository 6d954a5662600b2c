/**
 * Daemon configuration: DAEMON_DEFAULTS, then the YAML file (the existing
 * system's keys), then the environment, then flags. The keys are data in
 * config-table.ts (docs/configuration.md is generated from it); this file
 * holds the types, the defaults, the command line and the rules between keys.
 */
import { parseArgs } from "node:util";
import { docRows, loadTable } from "../common/config/table.js";
import { deepFreeze, getPath, readConfigFile } from "../common/config-load.js";
import { ConfigError } from "../common/errors.js";
import type { LogLevel } from "../common/logging.js";
import type { Labels } from "../common/types.js";
import { checkLabels, type ValidationLimits, validateNodeId } from "../common/validation.js";
import { DAEMON_TABLE, type DaemonConfigDraft, UNIMPLEMENTED_KEYS } from "./config-table.js";

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

/** The defaults, frozen all the way down (copy them with structuredClone). */
export const DAEMON_DEFAULTS: Readonly<DaemonConfig> = deepFreeze<DaemonConfig>({
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
});

/** Every daemon key, documented (docs/configuration.md), defaults from DAEMON_DEFAULTS. */
export const DAEMON_CONFIG_KEYS = docRows(DAEMON_TABLE, {
  ...DAEMON_DEFAULTS,
  tlsFiles: { certFile: "", keyFile: "", caFile: "" },
});

/** Every YAML key the table reads itself (daemon.labels, a free mapping, is read here). */
export const DAEMON_YAML_KEYS = DAEMON_TABLE.filter((k) => !k.map).map((k) => k.yaml);

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
  const flags = parseDaemonArgv(input.argv);
  const { file, path: configPath } = readConfigFile(
    flags.config === undefined ? [] : ["--config", flags.config],
    input.readFile,
  );
  const src = configPath ?? "";
  const draft: DaemonConfigDraft = {
    ...(structuredClone(DAEMON_DEFAULTS) as DaemonConfig),
    tlsFiles: { certFile: "", keyFile: "", caFile: "" },
  };
  const loaded = loadTable(DAEMON_TABLE, draft, {
    file,
    source: src,
    env: input.env,
    flags: { "log-level": flags["log-level"], "work-dir": flags["work-dir"] },
    checkEverySource: true,
    accepted: UNIMPLEMENTED_KEYS,
  });
  const { tlsFiles: tls, ...cfg } = draft;
  cfg.warnings = loaded.warnings;
  const collectors = getPath(file, "collectors");
  const unknownCollectors =
    collectors && typeof collectors === "object"
      ? Object.keys(collectors).filter((name) => !(name in cfg.collectors))
      : [];
  // An unknown collector gets its own message, listing the known ones.
  const problems = loaded.problems.filter(
    (p) => !unknownCollectors.some((name) => p.startsWith(`collectors.${name}`)),
  );
  for (const name of unknownCollectors) {
    problems.push(
      `collectors.${name} (${src}): unknown collector; known: ${Object.keys(cfg.collectors).join(", ")}`,
    );
  }

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
  // A file named in the config must be readable now, not at the first connection.
  for (const [key, path] of [
    ["manager.tls.cert_file", tls.certFile],
    ["manager.tls.key_file", tls.keyFile],
    ["manager.tls.ca_file", tls.caFile],
    ["manager.token_file", cfg.manager.tokenFile],
  ] as const) {
    if (!path) continue;
    try {
      input.readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push(`${key} (${src}): cannot read "${path}" (${code})`);
    }
  }

  const fileLabels = getPath(file, "daemon.labels");
  // A value that is not a mapping is reported by the unknown-key check ("expected a mapping").
  if (fileLabels && typeof fileLabels === "object" && !Array.isArray(fileLabels)) {
    for (const [k, v] of Object.entries(fileLabels as Record<string, unknown>)) {
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        cfg.labels[k] = String(v);
      else
        problems.push(
          `daemon.labels.${k} (${src}): expected a string value, got ${JSON.stringify(v)}`,
        );
    }
  }
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
  // The same rule the manager applies to node_id, so a bad id stops here and not at every call.
  const idSource = loaded.sources.get("daemon.id");
  if (idSource && cfg.id) {
    try {
      validateNodeId(cfg.id, MANAGER_LIMITS, `daemon.id (${idSource})`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }

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
