import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.js";
import { loadManagerConfig } from "../../src/manager/config.js";

const PG = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/x" };
const load = (argv: string[], env: Record<string, string> = {}, yaml = "") =>
  loadManagerConfig({
    argv: yaml ? ["--config", "m.yaml", ...argv] : argv,
    env,
    readFile: () => yaml,
  });
const problemOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "no error";
};

describe("workers config key", () => {
  it("defaults to 1 and reads YAML, then env FLEET_WORKERS, then --workers", () => {
    expect(load([]).workers).toBe(1);
    expect(load([], PG, "workers: 3\n").workers).toBe(3);
    expect(load([], { ...PG, FLEET_WORKERS: "4" }, "workers: 3\n").workers).toBe(4);
    expect(load(["--workers", "5"], { ...PG, FLEET_WORKERS: "4" }).workers).toBe(5);
    expect(load(["--workers=2"], PG).workers).toBe(2);
  });

  it("auto is one worker per available CPU", () => {
    expect(load(["--workers", "auto"], PG).workers).toBe(availableParallelism());
  });

  it("refuses bad values naming the key and the limit", () => {
    expect(problemOf(() => load(["--workers", "0"], PG))).toContain(
      'workers (--workers): expected "auto" or an integer from 1 to 256, got "0"',
    );
    expect(problemOf(() => load(["--workers"], PG))).toContain("workers (--workers)");
    expect(problemOf(() => load([], { ...PG, FLEET_WORKERS: "many" }))).toContain(
      "workers (env FLEET_WORKERS)",
    );
  });

  it("more than one worker needs PostgreSQL (the embedded database is single-process)", () => {
    expect(problemOf(() => load(["--workers", "2"]))).toContain(
      "workers: 2 needs database.url (DATABASE_URL)",
    );
  });
});
