import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkConfigKeys, editDistance, nearestKey } from "../../src/common/config/keys-check.js";
import { ConfigError } from "../../src/common/errors.js";
import { packageRoot } from "../../src/common/package-root.js";
import {
  DAEMON_CONFIG_KEYS,
  DAEMON_YAML_KEYS,
  loadDaemonConfig,
  parseLabelList,
} from "../../src/daemon/config.js";

import { loadManagerConfig } from "../../src/manager/config.js";

const loadDaemon = (yaml: string, env: Record<string, string> = {}, argv: string[] = []) =>
  loadDaemonConfig({
    argv: ["--config", "d.yaml", ...argv],
    env,
    readFile: (p) => {
      if (p === "d.yaml") return yaml;
      throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
    },
  });
const problemsOf = (load: () => unknown): readonly string[] => {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("nearest known key (shared by both loaders)", () => {
  it("measures edits, including a swap of neighbours", () => {
    expect(editDistance("adress", "address")).toBe(1);
    expect(editDistance("adderss", "address")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests the closest key, by whole path or by the last part under the same section", () => {
    const known = [
      "manager.address",
      "manager.heartbeat_interval",
      "manager.timeout",
      "collectors",
    ];
    expect(nearestKey("manager.adress", known)).toBe("manager.address");
    expect(nearestKey("manager.heartbeat_intervall", known)).toBe("manager.heartbeat_interval");
    expect(nearestKey("colectors", known)).toBe("collectors");
    expect(nearestKey("something_else_entirely", known)).toBeUndefined();
  });

  it("reports unknown keys and scalars for sections, skips free maps, warns for accepted foreign keys", () => {
    const report = checkConfigKeys(
      {
        a: { b: 1, c: 2 },
        labels: { anything: "goes" },
        s: 5,
        legacy: { x: 1 },
        a_pprof_port: 1,
      },
      {
        source: "f.yaml",
        known: ["a.b", "s.t"],
        maps: ["labels"],
        accepted: [
          { key: "legacy", why: "not ours" },
          { key: "a_pprof_*", why: "no pprof" },
        ],
      },
    );
    expect(report.problems).toEqual([
      "a.c (f.yaml): unknown key, did you mean a.b?",
      "s (f.yaml): expected a mapping, got 5",
    ]);
    expect(report.warnings).toEqual([
      "legacy (f.yaml): not ours; ignored",
      "a_pprof_port (f.yaml): no pprof; ignored",
    ]);
  });
});

describe("strict daemon configuration", () => {
  it("lists every misspelled key in one error with the nearest known key", () => {
    expect(
      problemsOf(() =>
        loadDaemon(`
daemon: { id: web-1, workdir: /tmp/x }
manager:
  adress: "m:9090"
  heartbeat_intervall: 10s
colectors:
  cpu: { enabled: true }
`),
      ),
    ).toEqual([
      "daemon.workdir (d.yaml): unknown key, did you mean daemon.work_dir?",
      "manager.adress (d.yaml): unknown key, did you mean manager.address?",
      "manager.heartbeat_intervall (d.yaml): unknown key, did you mean manager.heartbeat_interval?",
      "colectors (d.yaml): unknown key, did you mean collectors?",
    ]);
  });

  it("loads the existing system's daemon.yaml (agent, update, …) with one warning per unimplemented key", () => {
    const yaml = readFileSync(join(packageRoot(), "tests/fixtures/go-daemon.yaml"), "utf8");
    const cfg = loadDaemon(yaml);
    expect(cfg.id).toBe("go-shape-1");
    expect(cfg.manager.heartbeatIntervalMs).toBe(30_000);
    expect(cfg.warnings).toEqual([
      "daemon.log_file (d.yaml): not implemented: fleet-daemon logs JSON to stderr (journald keeps it); ignored",
      "daemon.pid_file (d.yaml): not implemented: run it under systemd or another supervisor; ignored",
      "daemon.grpc_port (d.yaml): not implemented: fleet-daemon serves no gRPC port; ignored",
      "daemon.http_port (d.yaml): not implemented: fleet-daemon serves no HTTP port (see fleet-daemon status); ignored",
      "daemon.pprof_enabled (d.yaml): not implemented: no pprof in a Node.js daemon; ignored",
      "daemon.pprof_port (d.yaml): not implemented: no pprof in a Node.js daemon; ignored",
      "daemon.max_procs (d.yaml): not implemented: Node.js has no GOMAXPROCS; ignored",
      "agent (d.yaml): not implemented: Fleet has no agents; ignored",
      "agents (d.yaml): not implemented: Fleet has no agents; ignored",
      "agent_defaults (d.yaml): not implemented: Fleet has no agents; ignored",
      "update (d.yaml): not implemented: update fleet-daemon with its package; ignored",
    ]);
  });

  it("reads daemon.labels and merges FLEET_LABELS over them", () => {
    const cfg = loadDaemon("daemon: { labels: { env: prod, role: web, tier: 1 } }", {
      FLEET_LABELS: "role=db, zone=eu-1,",
    });
    expect(cfg.labels).toEqual({ env: "prod", role: "db", tier: "1", zone: "eu-1" });
    expect(Object.isFrozen(cfg.labels)).toBe(true);
    expect(loadDaemon("").labels).toEqual({});
    expect(parseLabelList("a=1,b=")).toEqual({ a: "1", b: "" });
  });

  it("validates labels with the manager's rules, naming the key and the rule", () => {
    expect(problemsOf(() => loadDaemon('daemon: { labels: { "bad-key": x } }'))).toEqual([
      'daemon.labels (d.yaml): key "bad-key" must match [A-Za-z_][A-Za-z0-9_]* and not start with "__"',
    ]);
    expect(
      problemsOf(() => loadDaemon(`daemon: { labels: { env: "${"v".repeat(256)}" } }`)),
    ).toEqual(['daemon.labels (d.yaml)["env"]: value must be at most 255 characters, got 256']);
    expect(problemsOf(() => loadDaemon("", { FLEET_LABELS: "env=prod,oops" }))).toEqual([
      'env FLEET_LABELS: expected key=value pairs separated by commas (env=prod,role=web), got "oops"',
    ]);
    expect(problemsOf(() => loadDaemon("", { FLEET_LABELS: "__x=1" }))).toEqual([
      'daemon.labels (with env FLEET_LABELS): key "__x" must match [A-Za-z_][A-Za-z0-9_]* and not start with "__"',
    ]);
    expect(problemsOf(() => loadDaemon("daemon: { labels: [a, b] }"))).toEqual([
      'daemon.labels (d.yaml): expected a mapping, got ["a","b"]',
    ]);
    expect(problemsOf(() => loadDaemon("daemon: { labels: { env: { a: 1 } } }"))).toEqual([
      'daemon.labels.env (d.yaml): expected a string value, got {"a":1}',
    ]);
  });

  it("--ephemeral marks the node", () => {
    expect(loadDaemon("", {}, ["--once", "--ephemeral"])).toMatchObject({
      command: "once",
      ephemeral: true,
    });
    expect(loadDaemon("").ephemeral).toBe(false);
  });

  it("knows exactly the documented keys", () => {
    expect([...DAEMON_YAML_KEYS, "daemon.labels"].sort()).toEqual(
      DAEMON_CONFIG_KEYS.map((k) => k.yaml).sort(),
    );
  });
});

describe("strict manager configuration", () => {
  it("names every unknown key with the nearest known one, in one error", () => {
    const problems = problemsOf(() =>
      loadManagerConfig({
        argv: ["--config", "m.yaml"],
        env: {},
        readFile: () => `
grcp: { addr: "127.0.0.1:9090" }
heartbeat: { intervall: 10s }
liveness: { forget_afer: 7d }
`,
      }),
    );
    expect(problems).toEqual([
      "grcp (m.yaml): unknown key, did you mean grpc?",
      "heartbeat.intervall (m.yaml): unknown key, did you mean heartbeat.interval?",
      "liveness.forget_afer (m.yaml): unknown key, did you mean liveness.forget_after?",
    ]);
  });

  it("reads the keys of this issue", () => {
    const cfg = loadManagerConfig({
      argv: ["--config", "m.yaml"],
      env: {},
      readFile: () => `
grpc: { goaway_after_not_found: 5 }
heartbeat: { min_interval: 2s, interval: 30s }
liveness: { forget_after: 7d, ephemeral_forget_after: 10m }
`,
    });
    expect(cfg.grpcGoawayAfterNotFound).toBe(5);
    expect(cfg.heartbeat.minIntervalSeconds).toBe(2);
    expect(cfg.heartbeatIntervalSeconds).toBe(30);
    expect(cfg.liveness.forgetAfterSeconds).toBe(7 * 86_400);
    expect(cfg.liveness.ephemeralForgetAfterSeconds).toBe(600);
  });
});
