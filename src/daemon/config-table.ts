/**
 * Every daemon configuration key (the existing system's YAML names, DESIGN
 * §3), as data: the loader, the problem wording and docs/configuration.md
 * come from src/common/config/. `invalid` is a value the loader must refuse
 * naming the key (tests/unit/config-docs.test.ts keeps the table honest).
 */
import {
  durationAtLeast,
  fmtMs,
  fmtSize,
  oneOf,
  size,
  strictBoolean,
  strictText,
  stringList,
  stringThen,
} from "../common/config/parsers.js";
import { type ConfigKey, keyOf } from "../common/config/table.js";
import { LOG_LEVELS } from "../common/logging.js";
import type { DaemonConfig } from "./config.js";

/** What the table fills: the TLS files stay apart until they are known to come as a set. */
export type DaemonConfigDraft = DaemonConfig & {
  tlsFiles: { certFile: string; keyFile: string; caFile: string };
};

const key = keyOf<DaemonConfigDraft>();

const collector = (name: keyof DaemonConfig["collectors"]) => [
  key({
    yaml: `collectors.${name}.enabled`,
    field: `collectors.${name}.enabled`,
    parse: strictBoolean,
    doc: `collect ${name} metrics`,
    invalid: "yes",
  }),
  key({
    yaml: `collectors.${name}.interval`,
    field: `collectors.${name}.intervalMs`,
    parse: durationAtLeast(1000),
    format: fmtMs,
    doc: `how often ${name} metrics are collected (at least 1s)`,
    invalid: "soon",
  }),
];

const file = (yaml: string, field: keyof DaemonConfigDraft["tlsFiles"], doc: string) =>
  key({
    yaml,
    field: `tlsFiles.${field}`,
    parse: strictText,
    doc,
    invalid: `/nonexistent/${field}`,
  });

export const DAEMON_TABLE: readonly ConfigKey<DaemonConfigDraft>[] = [
  key({
    yaml: "daemon.id",
    field: "id",
    env: "NODE_NAME",
    envFallback: true,
    parse: strictText,
    defaultDoc: '"" (NODE_NAME, else a UUID kept in work_dir/node_id)',
    doc: "node id (1–128 characters of [A-Za-z0-9._:-]); wins over NODE_NAME",
    invalid: 42,
  }),
  key({
    yaml: "daemon.log_level",
    field: "logLevel",
    env: "LOG_LEVEL",
    flag: "log-level",
    parse: stringThen(oneOf(LOG_LEVELS)),
    doc: "log level: trace, debug, info, warn, error, fatal, silent (also --log-level)",
    invalid: "loud",
  }),
  key({
    yaml: "daemon.work_dir",
    field: "workDir",
    flag: "work-dir",
    parse: strictText,
    doc: "state folder: node_id, spool, status.json (also --work-dir)",
    invalid: 7,
  }),
  // Read by config.ts: a free mapping, with FLEET_LABELS merged over it.
  {
    yaml: "daemon.labels",
    env: "FLEET_LABELS",
    map: true,
    defaultDoc: "{} (FLEET_LABELS=env=prod,role=web is merged over it)",
    doc: "node labels sent on every RegisterNode (a changed set replaces the old one); keys match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters, no leading __), values at most 255 characters, at most 64 pairs",
    invalid: { "bad-key": "x" },
  },
  key({
    yaml: "daemon.spool_max_bytes",
    field: "spoolMaxBytes",
    parse: size(
      65_536,
      Number.MAX_SAFE_INTEGER,
      'a size of at least 64KiB such as "64MiB" (B, KiB, MiB or bare bytes)',
    ),
    format: fmtSize,
    doc: "bound of the on-disk spool (a size, at least 64KiB); the oldest batches are dropped beyond it (a `daemon` metric records the gap)",
    invalid: 10,
  }),
  key({
    yaml: "manager.address",
    field: "manager.address",
    env: "MANAGER_ADDRESS",
    parse: strictText,
    doc: "host:port of the manager's gRPC port",
    invalid: "no port here",
  }),
  file(
    "manager.tls.cert_file",
    "certFile",
    "client certificate (PEM); the three TLS files are set together or not at all",
  ),
  file("manager.tls.key_file", "keyFile", "client private key (PEM)"),
  file("manager.tls.ca_file", "caFile", "CA that signed the manager's certificate (PEM)"),
  key({
    yaml: "manager.tls.reload_interval",
    field: "manager.tlsReloadIntervalMs",
    parse: durationAtLeast(100),
    format: fmtMs,
    doc: "how often the TLS files are checked for a renewal besides watching their folder; a renewed pair moves the daemon to a new connection",
    invalid: "soon",
  }),
  key({
    yaml: "manager.token_file",
    field: "manager.tokenFile",
    parse: strictText,
    doc: "file holding the enrollment token (FLEET_ENROLL_TOKEN on the manager)",
    invalid: "/nonexistent/token",
  }),
  key({
    yaml: "manager.heartbeat_interval",
    field: "manager.heartbeatIntervalMs",
    parse: durationAtLeast(1000),
    format: fmtMs,
    doc: "heartbeat interval, sent at registration; the daemon keeps max(this, the manager's heartbeat_interval_seconds)",
    invalid: "often",
  }),
  key({
    yaml: "manager.reconnect_interval",
    field: "manager.reconnectIntervalMs",
    parse: durationAtLeast(100),
    format: fmtMs,
    doc: "base delay before reconnecting (with jitter and backoff)",
    invalid: "later",
  }),
  key({
    yaml: "manager.timeout",
    field: "manager.timeoutMs",
    parse: durationAtLeast(100),
    format: fmtMs,
    doc: "deadline of each call to the manager",
    invalid: "never",
  }),
  ...collector("cpu"),
  ...collector("memory"),
  ...collector("disk"),
  key({
    yaml: "collectors.disk.mount_points",
    field: "collectors.disk.mountPoints",
    parse: stringList,
    defaultDoc: "[] (all)",
    doc: "only these mount points, when set",
    invalid: "/var",
  }),
  ...collector("network"),
  key({
    yaml: "collectors.network.interfaces",
    field: "collectors.network.interfaces",
    parse: stringList,
    defaultDoc: "[] (all)",
    doc: "only these interfaces, when set",
    invalid: "eth0",
  }),
];

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
