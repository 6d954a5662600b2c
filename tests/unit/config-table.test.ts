import { describe, expect, it } from "vitest";
import { durationMs, integer, strictText, token } from "../../src/common/config/parsers.js";
import { docRows, keyOf, loadTable } from "../../src/common/config/table.js";

interface Sample {
  name: string;
  retries: number;
  poll: { everyMs: number };
  secret: string;
}
const defaults = (): Sample => ({ name: "", retries: 3, poll: { everyMs: 5000 }, secret: "" });
const key = keyOf<Sample>();
const TABLE = [
  key({ yaml: "name", field: "name", env: "NAME", envFallback: true, parse: strictText, doc: "n" }),
  key({
    yaml: "retries",
    field: "retries",
    env: "RETRIES",
    flag: "retries",
    parse: integer(0, 9),
    doc: "r",
  }),
  key({
    yaml: "poll.every",
    field: "poll.everyMs",
    parse: durationMs(100, 60_000),
    doc: "p",
    format: String,
  }),
  key({ yaml: "secret", field: "secret", env: "SECRET", parse: token, secret: true, doc: "s" }),
];

const run = (
  file: Record<string, unknown>,
  env: Record<string, string> = {},
  flags: Record<string, string> = {},
  checkEverySource = false,
) => {
  const target = defaults();
  const result = loadTable(TABLE, target, { file, source: "f.yaml", env, flags, checkEverySource });
  return { target, ...result };
};

describe("configuration key tables (src/common/config/table.ts)", () => {
  it("applies the file, then the environment, then flags, and records where each value came from", () => {
    const r = run({ retries: 1, poll: { every: "2s" } }, { RETRIES: "2" }, { retries: "4" });
    expect(r.problems).toEqual([]);
    expect(r.target).toEqual({ name: "", retries: 4, poll: { everyMs: 2000 }, secret: "" });
    expect(r.sources.get("retries")).toBe("--retries");
    expect(r.sources.get("poll.every")).toBe("f.yaml");
    // An empty variable is not set.
    expect(run({ retries: 1 }, { RETRIES: "" }).target.retries).toBe(1);
  });

  it("checks only the winning value, or every source when asked (the daemon's strictness)", () => {
    expect(run({ retries: 99 }, { RETRIES: "2" }).problems).toEqual([]);
    expect(run({ retries: 99 }, { RETRIES: "2" }, {}, true).problems).toEqual([
      "retries (f.yaml): expected an integer from 0 to 9, got 99",
    ]);
  });

  it("takes a fallback variable only when the file sets no value or an empty one", () => {
    expect(run({ name: "file" }, { NAME: "env" }).target.name).toBe("file");
    expect(run({ name: "" }, { NAME: "env" }).target.name).toBe("env");
    expect(run({}, { NAME: "env" }).sources.get("name")).toBe("env NAME");
  });

  it("masks secrets and names unknown keys with the nearest known one", () => {
    const r = run({ secret: "short", poll: { evry: "1s" } }, {}, {});
    expect(r.problems).toEqual([
      'secret (f.yaml): expected 16 to 4096 printable ASCII characters without spaces, got "***"',
      "poll.evry (f.yaml): unknown key, did you mean poll.every?",
    ]);
  });

  it("writes documentation rows with the defaults in the keys' own syntax", () => {
    expect(docRows(TABLE, defaults()).map((k) => [k.yaml, k.env, k.default])).toEqual([
      ["name", "NAME", ""],
      ["retries", "RETRIES", "3"],
      ["poll.every", undefined, "5000"],
      ["secret", "SECRET", ""],
    ]);
  });
});
