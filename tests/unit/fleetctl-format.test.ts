import { describe, expect, it } from "vitest";
import { autoStepSeconds } from "../../src/fleetctl/commands/metrics.js";
import { ago, labelText, num, sparkline, table } from "../../src/fleetctl/format.js";

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
