import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.js";
import { DAEMON_DEFAULTS, loadDaemonConfig } from "../../src/daemon/config.js";

const files: Record<string, string> = {
  "/etc/fleet/cert.pem": "CERT",
  "/etc/fleet/key.pem": "KEY",
  "/etc/fleet/ca.pem": "CA",
};
const load = (yaml: string, argv: string[] = [], env: Record<string, string> = {}) =>
  loadDaemonConfig({
    argv: ["--config", "d.yaml", ...argv],
    env,
    readFile: (p) => {
      if (p === "d.yaml") return yaml;
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
      return text;
    },
  });
const problems = (yaml: string) => {
  try {
    load(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("daemon config", () => {
  it("reads the existing system's keys", () => {
    const cfg = load(`
daemon: { id: web-1, log_level: debug, work_dir: /tmp/w }
manager:
  address: "m.example.com:9090"
  tls: { cert_file: /etc/fleet/cert.pem, key_file: /etc/fleet/key.pem, ca_file: /etc/fleet/ca.pem }
  heartbeat_interval: 15s
  reconnect_interval: 2s
  timeout: 5s
collectors:
  cpu: { enabled: true, interval: 10s }
  memory: { enabled: false }
  disk: { interval: 1m, mount_points: [/, /var] }
  network: { interfaces: [eth0] }
`);
    expect(cfg).toMatchObject({
      id: "web-1",
      logLevel: "debug",
      workDir: "/tmp/w",
      command: "run",
      manager: {
        address: "m.example.com:9090",
        tls: {
          certFile: "/etc/fleet/cert.pem",
          keyFile: "/etc/fleet/key.pem",
          caFile: "/etc/fleet/ca.pem",
        },
        heartbeatIntervalMs: 15_000,
        reconnectIntervalMs: 2_000,
        timeoutMs: 5_000,
      },
      collectors: {
        cpu: { enabled: true, intervalMs: 10_000 },
        memory: { enabled: false },
        disk: { intervalMs: 60_000, mountPoints: ["/", "/var"] },
        network: { interfaces: ["eth0"] },
      },
    });
    expect(Object.isFrozen(cfg.manager)).toBe(true);
    expect(Object.isFrozen(DAEMON_DEFAULTS.collectors.disk.mountPoints)).toBe(true);
    expect(DAEMON_DEFAULTS.collectors.disk.mountPoints).toEqual([]);
  });

  it("lets the environment and flags override the file", () => {
    const cfg = load(
      "daemon: { log_level: info }\nmanager: { address: 'a:1' }",
      ["--log-level", "warn", "--once"],
      { MANAGER_ADDRESS: "b:2", LOG_LEVEL: "error", NODE_NAME: "from-env" },
    );
    expect(cfg).toMatchObject({ logLevel: "warn", id: "from-env", command: "once" });
    expect(cfg.manager.address).toBe("b:2");
    // daemon.id wins over NODE_NAME.
    expect(load("daemon: { id: file-id }", [], { NODE_NAME: "env" }).id).toBe("file-id");
  });

  it("names the key and the problem for a bad duration", () => {
    expect(problems("manager: { timeout: soon }")).toEqual([
      expect.stringMatching(/^manager\.timeout \(d\.yaml\): expected a duration .* got "soon"/),
    ]);
    expect(problems("collectors: { cpu: { interval: 10x } }")[0]).toMatch(
      /^collectors\.cpu\.interval/,
    );
  });

  it("rejects an unknown collector", () => {
    expect(problems("collectors: { gpu: { enabled: true } }")[0]).toMatch(
      /^collectors\.gpu \(d\.yaml\): unknown collector; known: cpu, memory, disk, network/,
    );
  });

  it("rejects a half-set TLS triple instead of falling back to plaintext", () => {
    expect(problems("manager: { tls: { cert_file: /etc/fleet/cert.pem } }")[0]).toMatch(
      /^manager\.tls \(d\.yaml\): .*missing key_file, ca_file.*never a silent downgrade/,
    );
  });

  it("refuses a plaintext URL when TLS is configured", () => {
    expect(
      problems(`
manager:
  address: "http://m:9090"
  tls: { cert_file: /etc/fleet/cert.pem, key_file: /etc/fleet/key.pem, ca_file: /etc/fleet/ca.pem }
`),
    ).toEqual([
      expect.stringMatching(
        /^manager\.address: "http:\/\/m:9090" is plaintext but manager\.tls is set/,
      ),
    ]);
  });

  it("rejects an unreadable TLS file or token file at start", () => {
    const p = problems(`
manager:
  tls: { cert_file: /etc/fleet/cert.pem, key_file: /nope/key.pem, ca_file: /etc/fleet/ca.pem }
  token_file: /nope/token
`);
    expect(p).toEqual([
      'manager.tls.key_file (d.yaml): cannot read "/nope/key.pem" (ENOENT)',
      'manager.token_file (d.yaml): cannot read "/nope/token" (ENOENT)',
    ]);
  });

  it("reports every problem at once", () => {
    expect(
      problems("daemon: { log_level: loud }\nmanager: { address: nope, timeout: x }"),
    ).toHaveLength(3);
  });

  it("knows the status subcommand, given first", () => {
    const cfg = loadDaemonConfig({ argv: ["status"], env: {}, readFile: () => "" });
    expect(cfg.command).toBe("status");
    const withFlags = loadDaemonConfig({
      argv: ["status", "--work-dir", "/tmp/w"],
      env: {},
      readFile: () => "",
    });
    expect(withFlags).toMatchObject({ command: "status", workDir: "/tmp/w" });
    // Anywhere else it is a stray argument, refused like any other.
    expect(() => load("", ["status"])).toThrow(/unexpected argument "status"/);
  });

  it("refuses unknown flags, flags without their value and stray arguments, naming them", () => {
    const refuse = (argv: string[]) => {
      try {
        loadDaemonConfig({ argv, env: {}, readFile: () => "" });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join("\n");
      }
      throw new Error(`accepted ${argv.join(" ")}`);
    };
    expect(refuse(["--config"])).toMatch(/--config/);
    expect(refuse(["--config="])).toMatch(/--config/);
    expect(refuse(["--config", "--once"])).toMatch(/--config/);
    expect(refuse(["--confg", "x"])).toMatch(/--confg/);
    expect(refuse(["--onse"])).toMatch(/--onse/);
    expect(refuse(["--log-level"])).toMatch(/--log-level/);
    expect(refuse(["stat"])).toMatch(/"stat"/);
    expect(loadDaemonConfig({ argv: ["--once"], env: {}, readFile: () => "" }).command).toBe(
      "once",
    );
  });

  it("validates the node id like the manager does, naming daemon.id and where it came from", () => {
    const problemsOf = (yaml: string, env: Record<string, string> = {}) => {
      try {
        load(yaml, [], env);
        return "";
      } catch (err) {
        return (err as ConfigError).problems.join("\n");
      }
    };
    expect(problemsOf("daemon: { id: 'web 1' }")).toMatch(
      /^daemon\.id \(d\.yaml\): must contain only/,
    );
    expect(problemsOf("daemon: { id: x }")).toBe("");
    expect(problemsOf(`daemon: { id: ${"a".repeat(129)} }`)).toMatch(/daemon\.id.*1–128/);
    expect(problemsOf("", { NODE_NAME: "web/1" })).toMatch(/daemon\.id \(env NODE_NAME\)/);
    // Empty means "not set": NODE_NAME, else a generated UUID.
    expect(problemsOf("daemon: { id: '' }")).toBe("");
  });
});

describe("daemon version", () => {
  it("is the package's version, read from package.json", async () => {
    const { readFileSync } = await import("node:fs");
    const { DAEMON_VERSION } = await import("../../src/daemon/host-info.js");
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(DAEMON_VERSION).toBe(pkg.version);
  });
});

describe("daemon.spool_max_bytes", () => {
  it("takes sizes like the manager's (B, KiB, MiB or bare bytes) and refuses what is not one", () => {
    expect(load("daemon: { spool_max_bytes: 16MiB }").spoolMaxBytes).toBe(16 * 1024 * 1024);
    expect(load("daemon: { spool_max_bytes: 512KiB }").spoolMaxBytes).toBe(512 * 1024);
    expect(load("daemon: { spool_max_bytes: 100000B }").spoolMaxBytes).toBe(100_000);
    expect(load("daemon: { spool_max_bytes: 100000 }").spoolMaxBytes).toBe(100_000);
    for (const bad of ["10", "lots", "1.5MiB", "16 GB", "1KiB"])
      expect(() => load(`daemon: { spool_max_bytes: "${bad}" }`)).toThrow(
        /daemon\.spool_max_bytes/,
      );
  });
});
