import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { autoStepSeconds } from "../../src/fleetctl/commands/metrics.js";
import { ArgumentError, EXIT, exitCodeOf, UsageError } from "../../src/fleetctl/exit-codes.js";
import {
  ago,
  bytes,
  labelText,
  num,
  resample,
  sparkline,
  table,
  withUnit,
} from "../../src/fleetctl/format.js";
import { parseSort } from "../../src/fleetctl/sort.js";

describe("fleetctl formatting", () => {
  it("aligns table columns to the widest cell", () => {
    expect(
      table([
        ["NODE", "STATUS"],
        ["a-long-node", "online"],
        ["b", "offline"],
      ]),
    ).toBe("NODE         STATUS\na-long-node  online\nb            offline");
  });

  it("draws sparklines scaled between min and max", () => {
    expect(sparkline([0, 50, 100])).toBe("▁▅█");
    expect(sparkline([3, 3])).toBe("▄▄");
    expect(sparkline([])).toBe("");
    // All zero lies at the bottom, not mid-height.
    expect(sparkline([0, 0, 0])).toBe("▁▁▁");
  });

  it("sizes sparklines to the width given, averaging runs of points", () => {
    const v = Array.from({ length: 500 }, (_, i) => i);
    expect([...sparkline(v, 40)]).toHaveLength(40);
    expect(resample([1, 3, 5, 7], 2)).toEqual([2, 6]);
    expect(resample([1, 2], 10)).toEqual([1, 2]);
  });

  it("shows units: IEC bytes, rates per second, percentages", () => {
    expect(bytes(1_572_996_437.33)).toBe("1.46 GiB");
    expect(bytes(512)).toBe("512 B");
    expect(withUnit("used_bytes", 1536)).toBe("1.50 KiB");
    expect(withUnit("rx_bytes_per_second", 2_500_000)).toBe("2.38 MiB/s");
    expect(withUnit("usage_percent", 42.04)).toBe("42%");
    expect(withUnit("load1", 0.5)).toBe("0.5");
  });

  it("parses --sort with usage highest first by default", () => {
    expect(parseSort("cpu", "node_id")).toEqual({ orderBy: "cpu", descending: true });
    expect(parseSort("cpu:asc", "node_id")).toEqual({ orderBy: "cpu", descending: false });
    expect(parseSort(undefined, "node_id")).toEqual({ orderBy: "node_id", descending: false });
    expect(() => parseSort("ram", "cpu")).toThrow(/--sort: expected one of/);
  });

  it("formats ages, labels and numbers for people", () => {
    const now = 1_700_000_000_000;
    expect(ago(0, now)).toBe("never");
    expect(ago(1_700_000_000 - 42, now)).toBe("42s ago");
    expect(ago(1_700_000_000 - 7200, now)).toBe("2h ago");
    expect(labelText({ role: "db", env: "prod" })).toBe("env=prod,role=db");
    expect(labelText({})).toBe("-");
    expect(num(1.23456)).toBe("1.23");
    expect(num(7)).toBe("7");
  });

  it("picks about 60 points per range, never below 10 s", () => {
    expect(autoStepSeconds(3600)).toBe(60);
    expect(autoStepSeconds(300)).toBe(10);
    expect(autoStepSeconds(30 * 86_400)).toBe(43_200);
  });
});

describe("fleetctl exit codes", () => {
  it("are distinct, so a script can tell the cases apart", () => {
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
  });

  it("follow the status code, the rest being a plain error", () => {
    const of = (code: Code) => exitCodeOf(new ConnectError("x", code));
    expect(of(Code.NotFound)).toBe(EXIT.notFound);
    expect(of(Code.Unauthenticated)).toBe(EXIT.auth);
    expect(of(Code.PermissionDenied)).toBe(EXIT.auth);
    expect(of(Code.Unavailable)).toBe(EXIT.unavailable);
    expect(of(Code.DeadlineExceeded)).toBe(EXIT.unavailable);
    expect(of(Code.InvalidArgument)).toBe(EXIT.invalidArgument);
    expect(of(Code.Internal)).toBe(EXIT.error);
    expect(exitCodeOf(new UsageError("x"))).toBe(EXIT.usage);
    expect(exitCodeOf(new ArgumentError("x"))).toBe(EXIT.invalidArgument);
    expect(exitCodeOf(new Error("x"))).toBe(EXIT.error);
  });
});
