import type { ConfigKeyDoc } from "../common/config-doc.js";
import { DAEMON_DEFAULTS, type DaemonConfig } from "./config.js";

const secs = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
const d = DAEMON_DEFAULTS;

interface DaemonKeyDoc extends ConfigKeyDoc {
  /** A YAML value the loader must refuse, naming this key (keeps this table honest). */
  invalid: unknown;
}

const collector = (name: keyof DaemonConfig["collectors"]): DaemonKeyDoc[] => [
  {
    yaml: `collectors.${name}.enabled`,
    env: undefined,
    default: String(d.collectors[name].enabled),
    description: `collect ${name} metrics`,
    invalid: "yes",
  },
  {
    yaml: `collectors.${name}.interval`,
    env: undefined,
    default: secs(d.collectors[name].intervalMs),
    description: `how often ${name} metrics are collected (at least 1s)`,
    invalid: "soon",
  },
];

/**
 * Every daemon configuration key (the existing system's YAML names, DESIGN §3),
 * with its environment override and the default taken from DAEMON_DEFAULTS.
 */
export const DAEMON_CONFIG_KEYS: readonly DaemonKeyDoc[] = [
  {
    yaml: "daemon.id",
    env: "NODE_NAME",
    default: '"" (NODE_NAME, else a UUID kept in work_dir/node_id)',
    description: "node id (1–128 characters of [A-Za-z0-9._:-]); wins over NODE_NAME",
    invalid: 42,
  },
  {
    yaml: "daemon.log_level",
    env: "LOG_LEVEL",
    default: d.logLevel,
    description: "log level: trace, debug, info, warn, error, fatal, silent (also --log-level)",
    invalid: "loud",
  },
  {
    yaml: "daemon.work_dir",
    env: undefined,
    default: d.workDir,
    description: "state folder: node_id, spool, status.json (also --work-dir)",
    invalid: 7,
  },
  {
    yaml: "daemon.labels",
    env: "FLEET_LABELS",
    default: "{} (FLEET_LABELS=env=prod,role=web is merged over it)",
    description:
      "node labels sent on every RegisterNode (a changed set replaces the old one); keys match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters, no leading __), values at most 255 characters, at most 64 pairs",
    invalid: { "bad-key": "x" },
  },
  {
    yaml: "daemon.spool_max_bytes",
    env: undefined,
    default:
      d.spoolMaxBytes % (1024 * 1024) === 0
        ? `${d.spoolMaxBytes / 1024 / 1024}MiB`
        : String(d.spoolMaxBytes),
    description:
      "bound of the on-disk spool (a size, at least 64KiB); the oldest batches are dropped beyond it (a `daemon` metric records the gap)",
    invalid: 10,
  },
  {
    yaml: "manager.address",
    env: "MANAGER_ADDRESS",
    default: d.manager.address,
    description: "host:port of the manager's gRPC port",
    invalid: "no port here",
  },
  {
    yaml: "manager.tls.cert_file",
    env: undefined,
    default: '""',
    description: "client certificate (PEM); the three TLS files are set together or not at all",
    invalid: "/nonexistent/cert.pem",
  },
  {
    yaml: "manager.tls.key_file",
    env: undefined,
    default: '""',
    description: "client private key (PEM)",
    invalid: "/nonexistent/key.pem",
  },
  {
    yaml: "manager.tls.ca_file",
    env: undefined,
    default: '""',
    description: "CA that signed the manager's certificate (PEM)",
    invalid: "/nonexistent/ca.pem",
  },
  {
    yaml: "manager.tls.reload_interval",
    env: undefined,
    default: `${d.manager.tlsReloadIntervalMs / 1000}s`,
    description:
      "how often the TLS files are checked for a renewal besides watching their folder; a renewed pair moves the daemon to a new connection",
    invalid: "soon",
  },
  {
    yaml: "manager.token_file",
    env: undefined,
    default: '""',
    description: "file holding the enrollment token (FLEET_ENROLL_TOKEN on the manager)",
    invalid: "/nonexistent/token",
  },
  {
    yaml: "manager.heartbeat_interval",
    env: undefined,
    default: secs(d.manager.heartbeatIntervalMs),
    description:
      "heartbeat interval, sent at registration; the daemon keeps max(this, the manager's heartbeat_interval_seconds)",
    invalid: "often",
  },
  {
    yaml: "manager.reconnect_interval",
    env: undefined,
    default: secs(d.manager.reconnectIntervalMs),
    description: "base delay before reconnecting (with jitter and backoff)",
    invalid: "later",
  },
  {
    yaml: "manager.timeout",
    env: undefined,
    default: secs(d.manager.timeoutMs),
    description: "deadline of each call to the manager",
    invalid: "never",
  },
  ...collector("cpu"),
  ...collector("memory"),
  ...collector("disk"),
  {
    yaml: "collectors.disk.mount_points",
    env: undefined,
    default: "[] (all)",
    description: "only these mount points, when set",
    invalid: "/var",
  },
  ...collector("network"),
  {
    yaml: "collectors.network.interfaces",
    env: undefined,
    default: "[] (all)",
    description: "only these interfaces, when set",
    invalid: "eth0",
  },
];
