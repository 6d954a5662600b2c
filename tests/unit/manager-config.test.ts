import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.js";
import {
  loadManagerConfig,
  MANAGER_CONFIG_KEYS,
  MANAGER_DEFAULTS,
  validationLimits,
} from "../../src/manager/config.js";

const load = (yaml: string | undefined, env: Record<string, string> = {}, argv: string[] = []) =>
  loadManagerConfig({
    argv: yaml === undefined ? argv : ["--config", "m.yaml", ...argv],
    env,
    readFile: (p) => {
      if (p !== "m.yaml") throw new Error(`unexpected read of ${p}`);
      return yaml ?? "";
    },
  });

const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected ConfigError");
};

describe("manager config", () => {
  it("starts from the defaults and freezes the result", () => {
    const c = load(undefined);
    expect(c).toEqual({ ...MANAGER_DEFAULTS, insecure: false });
    expect(Object.isFrozen(c.liveness)).toBe(true);
    expect(validationLimits(c).maxAgeSeconds).toBe(30 * 86_400);
  });

  it("reads YAML, then lets the DESIGN §3 environment override it", () => {
    const c = load(
      `
grpc: { addr: "0.0.0.0:9999" }
log_level: debug
heartbeat: { interval: 30s, max_per_second: 50, flush_interval: 250ms }
liveness: { grace_period: 2m, sweep_interval: 1s, mass_miss_fraction: 0.3, flap_enter: 4, flap_exit: 1 }
ingest: { batch_window: 10ms, max_batch_rows: 1000 }
retention: { days: 7, partitions_ahead: 2 }
limits: { metrics_per_request_max: 100, request_max_bytes: 1MiB, max_future: 1m }
`,
      {
        FLEET_GRPC_ADDR: "127.0.0.1:7000",
        FLEET_LOG_LEVEL: "warn",
        DATABASE_URL: "postgres://u@h/db",
      },
    );
    expect(c.grpcAddr).toEqual({ host: "127.0.0.1", port: 7000 });
    expect(c.logLevel).toBe("warn");
    expect(c.databaseUrl).toBe("postgres://u@h/db");
    expect(c.heartbeatIntervalSeconds).toBe(30);
    expect(c.heartbeat).toMatchObject({ maxPerSecond: 50, flushIntervalMs: 250 });
    expect(c.liveness).toMatchObject({
      gracePeriodSeconds: 120,
      sweepIntervalMs: 1000,
      massMissFraction: 0.3,
      flapEnterTransitions: 4,
      flapExitTransitions: 1,
    });
    expect(c.ingest).toMatchObject({ batchWindowMs: 10, maxBatchRows: 1000 });
    expect(c.retention).toMatchObject({ days: 7, partitionsAhead: 2 });
    expect(c.limits).toMatchObject({
      metricsPerRequestMax: 100,
      requestMaxBytes: 1024 * 1024,
      maxFutureSeconds: 60,
    });
    expect(validationLimits(c).maxAgeSeconds).toBe(7 * 86_400);
  });

  it("lists every problem at once, naming key, source and value (password hidden)", () => {
    const problems = problemsOf(() =>
      load(
        `
heartbeat: { interval: 0s, flush_interval: 5s }
liveness: { mass_miss_fraction: 1.5, flap_enter: 3, flap_exit: 3 }
retention: { days: 0 }
limits: { request_max_bytes: 10GiB }
ingest: { batch_windw: 5ms }
`,
        { FLEET_HTTP_ADDR: "nope", DATABASE_URL: "mysql://u:secret@h/db" },
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'http.addr (env FLEET_HTTP_ADDR): expected host:port, got "nope"',
        'database.url (env DATABASE_URL): expected a postgres:// URL, got "mysql://u:***@h/db"',
        'heartbeat.interval (m.yaml): expected a duration from 1s to 1h, got "0s"',
        'heartbeat.flush_interval (m.yaml): expected a duration from 10ms to 1s, got "5s"',
        "liveness.mass_miss_fraction (m.yaml): expected a number in (0, 1], got 1.5",
        "retention.days (m.yaml): expected an integer from 1 to 3650, got 0",
        'limits.request_max_bytes (m.yaml): expected a size from 1024 to 268435456 bytes (e.g. 4MiB), got "10GiB"',
        "ingest.batch_windw (m.yaml): unknown key, did you mean ingest.batch_window?",
        "liveness.flap_exit: must be below liveness.flap_enter (3), got 3",
      ]),
    );
    expect(problems).toHaveLength(9);
    expect(problems.join("\n")).not.toContain("secret");
  });

  it("refuses a pending-rows cap below one full-size request", () => {
    expect(
      problemsOf(() =>
        load("limits: { metrics_per_request_max: 5000 }\ningest: { max_pending_rows: 4999 }"),
      ),
    ).toEqual([
      "ingest.max_pending_rows: must be at least limits.metrics_per_request_max (5000), got 4999",
    ]);
  });

  it("refuses a grace period shorter than the heartbeat interval", () => {
    expect(
      problemsOf(() => load("heartbeat: { interval: 60s }\nliveness: { grace_period: 30s }")),
    ).toEqual(["liveness.grace_period: must be 0s or at least heartbeat.interval (60s), got 30s"]);
  });

  it("documents every key once: YAML path, env name, default, description", () => {
    const yamlKeys = MANAGER_CONFIG_KEYS.map((k) => k.yaml);
    expect(new Set(yamlKeys).size).toBe(yamlKeys.length);
    for (const k of MANAGER_CONFIG_KEYS) {
      expect(k.description.length, k.yaml).toBeGreaterThan(10);
      expect(k.default, k.yaml).toBeTypeOf("string");
    }
    const byKey = Object.fromEntries(MANAGER_CONFIG_KEYS.map((k) => [k.yaml, k]));
    expect(byKey["grpc.addr"]).toMatchObject({ env: "FLEET_GRPC_ADDR", default: "127.0.0.1:9090" });
    expect(byKey["http.addr"]).toMatchObject({ env: "FLEET_HTTP_ADDR", default: "127.0.0.1:8080" });
    expect(byKey["database.url"]).toMatchObject({ env: "DATABASE_URL", default: "" });
    expect(byKey["database.data_dir"]).toMatchObject({
      env: "FLEET_DATA_DIR",
      default: "./.fleet",
    });
    expect(byKey.log_level).toMatchObject({ env: "FLEET_LOG_LEVEL", default: "info" });
    expect(byKey["heartbeat.interval"]?.default).toBe("1m");
    expect(byKey["retention.days"]?.default).toBe("30");
    expect(byKey["limits.request_max_bytes"]?.default).toBe("4MiB");
    expect(byKey["liveness.mass_miss_fraction"]?.default).toBe("0.5");
    // Each documented default parses back to the default value.
    const yaml = MANAGER_CONFIG_KEYS.filter((k) => k.default !== "")
      .map((k) => `${k.yaml}: ${JSON.stringify(k.default)}`)
      .join("\n");
    const nested: Record<string, unknown> = {};
    for (const line of yaml.split("\n")) {
      const [path, value] = line.split(/: (.*)/s) as [string, string];
      const parts = path.split(".");
      let cur = nested;
      for (const p of parts.slice(0, -1)) {
        cur[p] ??= {};
        cur = cur[p] as Record<string, unknown>;
      }
      cur[parts.at(-1) as string] = JSON.parse(value);
    }
    expect(load(JSON.stringify(nested))).toEqual({ ...MANAGER_DEFAULTS, insecure: false });
  });

  it("keeps the defaults frozen all the way down", () => {
    expect(Object.isFrozen(MANAGER_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(MANAGER_DEFAULTS.admission)).toBe(true);
    expect(Object.isFrozen(MANAGER_DEFAULTS.grpcAddr)).toBe(true);
    expect(() => {
      (MANAGER_DEFAULTS.liveness as { graceMultiplier: number }).graceMultiplier = 9;
    }).toThrow(TypeError);
    expect(MANAGER_DEFAULTS.liveness.graceMultiplier).toBe(3);
  });

  it("reads workers from YAML, FLEET_WORKERS and --workers (the flag wins), auto = one per CPU", () => {
    const db = { DATABASE_URL: "postgres://u@h/db" };
    expect(load(undefined).workers).toBe(1);
    expect(load("workers: 3", db).workers).toBe(3);
    expect(load("workers: 3", { ...db, FLEET_WORKERS: "2" }).workers).toBe(2);
    expect(load("workers: 3", { ...db, FLEET_WORKERS: "2" }, ["--workers", "4"]).workers).toBe(4);
    expect(load(undefined, db, ["--workers=auto"]).workers).toBe(availableParallelism());
    expect(load(undefined, {}, ["--workers", "1"]).workers).toBe(1);
    expect(problemsOf(() => load(undefined, db, ["--workers"]))).toEqual([
      'workers (--workers): expected "auto" or an integer from 1 to 256, got ""',
    ]);
    expect(problemsOf(() => load("workers: 0", db))).toEqual([
      'workers (m.yaml): expected "auto" or an integer from 1 to 256, got 0',
    ]);
  });

  it("refuses more than one worker on the embedded database, naming workers and database.url", () => {
    expect(problemsOf(() => load(undefined, { FLEET_WORKERS: "2" }))).toEqual([
      "workers: 2 needs database.url (DATABASE_URL): the embedded PGlite database is single-process",
    ]);
  });

  it("lists the listen policy's refusal with every other problem, in the one ConfigError", () => {
    const env = { FLEET_GRPC_ADDR: "0.0.0.0:9090", FLEET_TLS_KEY: "k.pem" };
    let err: unknown;
    try {
      load("retention: { days: 0 }", env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const { problems, message } = err as ConfigError;
    expect(problems).toEqual([
      "retention.days (m.yaml): expected an integer from 1 to 3650, got 0",
      "tls: cert (FLEET_TLS_CERT) and key (FLEET_TLS_KEY) must be set together, got only key",
      'tls.key: cannot read "k.pem" (unexpected read of k.pem)',
      "refusing to listen beyond loopback without authentication: gRPC 0.0.0.0:9090 needs FLEET_TLS_CERT/KEY/CLIENT_CA or FLEET_ENROLL_TOKEN and FLEET_API_TOKEN (or pass --insecure)",
    ]);
    expect(message.split("\n")).toHaveLength(5);
    // Alone, the refusal is one line, as main.ts has always printed it.
    let alone: ConfigError | undefined;
    try {
      load(undefined, { FLEET_HTTP_ADDR: "0.0.0.0:8080" });
    } catch (e) {
      alone = e as ConfigError;
    }
    expect(alone?.message).toBe(
      "refusing to listen beyond loopback without authentication: HTTP 0.0.0.0:8080 needs FLEET_API_TOKEN (or pass --insecure)",
    );
    // Commands that do not listen (migrate) and --insecure skip it.
    expect(load(undefined, { FLEET_HTTP_ADDR: "0.0.0.0:8080" }, ["--insecure"]).insecure).toBe(
      true,
    );
    expect(
      loadManagerConfig({
        argv: [],
        env: { FLEET_HTTP_ADDR: "0.0.0.0:8080" },
        readFile: () => "",
        listens: false,
      }).httpAddr.host,
    ).toBe("0.0.0.0");
  });
});
