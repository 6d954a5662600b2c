import {
  argValue,
  deepFreeze,
  getPath,
  parseAddress,
  parseDurationMs,
  parseYamlConfig,
} from "../common/config-load.js";
import { ConfigError } from "../common/errors.js";
import { LOG_LEVELS, type LogLevel } from "../common/logging.js";

export interface Address {
  host: string;
  port: number;
}

export interface ManagerConfig {
  grpcAddr: Address;
  httpAddr: Address;
  /** postgres:// URL; undefined means embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: LogLevel;
  /** The heartbeat interval the manager asks daemons for. */
  heartbeatIntervalSeconds: number;
  /** Explicit opt-out of the secure-by-default checks. */
  insecure: boolean;
}

export const MANAGER_DEFAULTS: ManagerConfig = {
  grpcAddr: { host: "127.0.0.1", port: 9090 },
  httpAddr: { host: "127.0.0.1", port: 8080 },
  databaseUrl: undefined,
  dataDir: "./.fleet",
  logLevel: "info",
  heartbeatIntervalSeconds: 60,
  insecure: false,
};

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
  const configPath = argValue(input.argv, "config");
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = parseYamlConfig(input.readFile(configPath), configPath);
    } catch (err) {
      throw new ConfigError([`--config (${configPath}): ${(err as Error).message}`]);
    }
  }

  const pick = (
    yamlKey: string,
    envKey: string | undefined,
  ): { value: unknown; source: string } | undefined => {
    const envValue = envKey ? input.env[envKey] : undefined;
    if (envValue !== undefined && envValue !== "")
      return { value: envValue, source: `env ${envKey}` };
    const fileValue = getPath(file, yamlKey);
    if (fileValue !== undefined && fileValue !== null)
      return { value: fileValue, source: configPath as string };
    return undefined;
  };

  const addr = (yamlKey: string, envKey: string, set: (a: Address) => void) => {
    const got = pick(yamlKey, envKey);
    if (!got) return;
    const parsed = parseAddress(String(got.value));
    if (parsed) set(parsed);
    else
      problems.push(`${yamlKey} (${got.source}): expected host:port, got "${String(got.value)}"`);
  };
  addr("grpc.addr", "FLEET_GRPC_ADDR", (a) => {
    cfg.grpcAddr = a;
  });
  addr("http.addr", "FLEET_HTTP_ADDR", (a) => {
    cfg.httpAddr = a;
  });

  const url = pick("database.url", "DATABASE_URL");
  if (url) {
    const text = String(url.value);
    if (!/^postgres(ql)?:\/\//.test(text)) {
      problems.push(
        `database.url (${url.source}): expected a postgres:// URL, got "${text.replace(/:[^:@/]*@/, ":***@")}"`,
      );
    } else cfg.databaseUrl = text;
  }
  const dataDir = pick("database.data_dir", "FLEET_DATA_DIR");
  if (dataDir) cfg.dataDir = String(dataDir.value);

  const level = pick("log_level", "FLEET_LOG_LEVEL");
  if (level) {
    const text = String(level.value).toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(text)) cfg.logLevel = text as LogLevel;
    else
      problems.push(
        `log_level (${level.source}): expected one of ${LOG_LEVELS.join(", ")}, got "${text}"`,
      );
  }

  const interval = pick("heartbeat.interval", undefined);
  if (interval) {
    const ms = parseDurationMs(interval.value);
    if (ms === undefined || ms < 1000 || ms > 3_600_000) {
      problems.push(
        `heartbeat.interval (${interval.source}): expected a duration from 1s to 1h, got "${String(interval.value)}"`,
      );
    } else cfg.heartbeatIntervalSeconds = Math.round(ms / 1000);
  }

  cfg.insecure = input.argv.includes("--insecure");

  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(cfg);
}
