import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError } from "../../src/common/errors.js";
import { packageRoot } from "../../src/common/package-root.js";
import { DAEMON_CONFIG_KEYS, loadDaemonConfig } from "../../src/daemon/config.js";

import { loadManagerConfig, MANAGER_CONFIG_KEYS } from "../../src/manager/config.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { SQL_STRINGS } from "./hostile-harness.js";

/** Cases per loader: a fifth of the RPC budget (FLEET_FUZZ_CASES, default 10,000). */
const PER_LOADER = Math.max(100, Math.floor((Number(process.env.FLEET_FUZZ_CASES) || 10_000) / 5));
/** Random configurations also run through the real bins (each start costs a second or so). */
const BIN_SAMPLES = 4;

let cases = 0;
afterAll(() => {
  process.stdout.write(
    `[hostile-config] ${cases} cases tried (manager and daemon loaders, random YAML and env; ${2 * BIN_SAMPLES} through the real bins)\n`,
  );
});

// Values of every YAML type, and the awkward ones: huge, negative, SQL, nested.
const scalar = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(...SQL_STRINGS),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1e309",
    "NaN",
    "10s",
    "-5m",
    "1d",
    "64MiB",
    "0.0.0.0:9090",
    "yes",
    "~",
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 5, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie("v"), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), tie("v"), { maxKeys: 3 }) },
  ),
})).v;

/** A document that sets some known keys (by their dotted paths) and some unknown ones. */
function documentOf(keys: readonly string[]) {
  return fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...keys) },
          { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
        ),
        value,
      ),
      { maxLength: 8 },
    )
    .map((pairs) => {
      const doc: Record<string, unknown> = {};
      for (const [path, v] of pairs) {
        const parts = path.split(".");
        let at: Record<string, unknown> = doc;
        for (const p of parts.slice(0, -1)) {
          const next = at[p];
          if (next === null || typeof next !== "object" || Array.isArray(next)) at[p] = {};
          at = at[p] as Record<string, unknown>;
        }
        at[parts.at(-1) as string] = v;
      }
      return doc;
    });
}

/** YAML text: a random document, broken text, or a document cut short. */
function yamlText(keys: readonly string[]) {
  return fc.oneof(
    { weight: 6, arbitrary: documentOf(keys).map((d) => stringify(d)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "a: [1, 2",
        "{{{",
        "- - - -",
        "grpc: !!binary 123",
        "&a [*a]",
        "key: value\n\tkey2: x",
        "x: &x\n  y: *x",
        `${"a: ".repeat(1000)}b`,
        "\u0000",
        "---\n---\n",
      ),
    },
    {
      weight: 1,
      arbitrary: documentOf(keys).chain((d) => {
        const t = stringify(d);
        return fc.nat(t.length).map((n) => t.slice(0, n));
      }),
    },
  );
}

function envOf(names: readonly string[]) {
  return fc.dictionary(
    fc.constantFrom(...names),
    fc.oneof(fc.string({ maxLength: 30 }), scalar.map(String)),
    {
      maxKeys: 4,
    },
  );
}

/**
 * A stack frame ("    at fn (file.js:1:2)", "    at node:internal/x:1:2"); a bare
 * "at" is not one: a fuzzed key named `at` starts its problem line with it.
 */
const STACK_FRAME = /\n\s+at .*(\.[cm]?[jt]s|node:internal\/\S+):\d+:\d+/;

/** The only acceptable failure: one ConfigError whose message lists problems, no stack trace in it. */
function expectConfigOutcome(load: () => unknown) {
  cases++;
  try {
    load();
  } catch (err) {
    if (!(err instanceof ConfigError))
      throw new Error(`not a ConfigError: ${(err as Error)?.stack}`);
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.message).not.toMatch(STACK_FRAME);
    return "refused";
  }
  return "loaded";
}

const noFile = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

describe("config loaders under random YAML and environment", () => {
  const managerKeys = MANAGER_CONFIG_KEYS.map((k) => k.yaml);
  const managerEnv = MANAGER_CONFIG_KEYS.flatMap((k) => (k.env ? [k.env] : []));
  const daemonKeys = DAEMON_CONFIG_KEYS.map((k) => k.yaml);
  const daemonEnv = ["MANAGER_ADDRESS", "LOG_LEVEL", "NODE_NAME", "FLEET_LABELS"];
  const refusedManager: string[] = [];
  const refusedDaemon: string[] = [];

  it("manager: loads or throws one ConfigError, never anything else", () => {
    fc.assert(
      fc.property(yamlText(managerKeys), envOf(managerEnv), fc.boolean(), (text, env, insecure) => {
        const outcome = expectConfigOutcome(() =>
          loadManagerConfig({
            argv: ["--config", "manager.yaml", ...(insecure ? ["--insecure"] : [])],
            env,
            readFile: (p) => (p === "manager.yaml" ? text : noFile(p)),
          }),
        );
        if (
          outcome === "refused" &&
          Object.keys(env).length === 0 &&
          refusedManager.length < BIN_SAMPLES
        )
          refusedManager.push(text);
      }),
      { numRuns: PER_LOADER },
    );
  });

  it("daemon: loads or throws one ConfigError, never anything else (flags too)", () => {
    const flags = fc.array(
      fc.oneof(
        fc.constantFrom(
          "--once",
          "--log-level",
          "debug",
          "--work-dir",
          "status",
          "reset-id",
          "--bogus",
          "-x",
          "",
        ),
        fc.string({ maxLength: 10 }),
      ),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(yamlText(daemonKeys), envOf(daemonEnv), flags, (text, env, extra) => {
        const outcome = expectConfigOutcome(() =>
          loadDaemonConfig({
            argv: ["--config", "daemon.yaml", ...extra],
            env,
            readFile: (p) => (p === "daemon.yaml" ? text : noFile(p)),
          }),
        );
        if (
          outcome === "refused" &&
          extra.length === 0 &&
          Object.keys(env).length === 0 &&
          refusedDaemon.length < BIN_SAMPLES
        )
          refusedDaemon.push(text);
      }),
      { numRuns: PER_LOADER },
    );
  });

  it("the real bins exit 2 with a message naming the problem, never a stack trace", () => {
    const dir = tempDir("fleet-hostile-config-");
    // The fixed ones first, so the sample is never empty.
    const samples: [string, string, string][] = [
      ...["grpc: { addr: 5 }\n", ...refusedManager]
        .slice(0, BIN_SAMPLES)
        .map((t) => ["src/manager/main.ts", "fleet-manager", t] as [string, string, string]),
      ...["manager: { timeout: soon }\n", ...refusedDaemon]
        .slice(0, BIN_SAMPLES)
        .map((t) => ["src/daemon/main.ts", "fleet-daemon", t] as [string, string, string]),
    ];
    for (const [i, [main, name, text]] of samples.entries()) {
      const file = join(dir, `c${i}.yaml`);
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, ["--import", "tsx", main, "--config", file], {
        cwd: packageRoot(),
        env: {
          ...process.env,
          DATABASE_URL: "",
          FLEET_DATA_DIR: join(dir, "data"),
          MANAGER_ADDRESS: "",
          LOG_LEVEL: "",
          NODE_NAME: "",
        },
        encoding: "utf8",
        timeout: 60_000,
      });
      cases++;
      expect(r.status, `${name} with ${JSON.stringify(text)}: ${r.stderr}`).toBe(2);
      expect(r.stderr.startsWith(`${name}: `), r.stderr).toBe(true);
      expect(r.stderr).not.toMatch(STACK_FRAME);
    }
  }, 180_000);
});
