import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Collector } from "../../src/daemon/collectors/collector.js";
import { createLimitedLog } from "../../src/daemon/log-limit.js";
import { runCollectLoop } from "../../src/daemon/loops/collect.js";
import { jitter, reconnectDelayMs } from "../../src/daemon/loops/timing.js";
import { openSpool } from "../../src/daemon/spool/spool.js";

const silent = pino({ level: "silent" });

describe("loop timing", () => {
  it("heartbeat jitter stays within ±10 %", () => {
    for (let i = 0; i < 1000; i++) {
      const ms = jitter(60_000, 0.1);
      expect(ms).toBeGreaterThanOrEqual(54_000);
      expect(ms).toBeLessThanOrEqual(66_000);
    }
    expect(jitter(1000, 0.1, () => 0)).toBe(900);
    expect(jitter(1000, 0.1, () => 1)).toBe(1100);
  });

  it("reconnect delays grow exponentially, are jittered to 50–100 %, and are capped", () => {
    expect(reconnectDelayMs(1, 1000, () => 1)).toBe(1000);
    expect(reconnectDelayMs(4, 1000, () => 1)).toBe(8000);
    expect(reconnectDelayMs(4, 1000, () => 0)).toBe(4000);
    expect(reconnectDelayMs(30, 1000, () => 1)).toBe(60_000);
    expect(reconnectDelayMs(30, 120_000, () => 1)).toBe(120_000);
  });
});

describe("limited log", () => {
  it("logs a repeating problem once per window and counts the rest", () => {
    const lines: { suppressed?: number }[] = [];
    const logger = pino(
      { level: "warn" },
      {
        write: (l: string) => {
          lines.push(JSON.parse(l));
        },
      },
    );
    const log = createLimitedLog(logger, 50);
    for (let i = 0; i < 10; i++) log("warn", "k", {}, "broken");
    log("warn", "other", {}, "also broken");
    expect(lines).toHaveLength(2);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        log("warn", "k", {}, "broken");
        expect(lines[2]?.suppressed).toBe(9);
        resolve();
      }, 60),
    );
  });
});

describe("collect loop", () => {
  it("a failing collector fails alone; rounds never reuse a second", async () => {
    const spool = await openSpool({
      dir: mkdtempSync(join(tmpdir(), "fleet-collect-")),
      maxBytes: 1 << 20,
    });
    let failures = 0;
    const broken: Collector = {
      type: "broken",
      collect: async () => {
        failures++;
        throw new Error("sensor on fire");
      },
    };
    const ok: Collector = {
      type: "ok",
      collect: async (now) => [
        { type: "ok", timestamp: Math.floor(now.getTime() / 1000), labels: {}, values: { v: 1 } },
      ],
    };
    const warnings: string[] = [];
    const log = (_l: string, key: string) => {
      warnings.push(key);
    };
    const ctl = new AbortController();
    const loops = [broken, ok].map((collector) =>
      // 300 ms ticks: some rounds land in the same second and must be skipped.
      runCollectLoop({
        collector,
        intervalMs: 300,
        spool,
        signal: ctl.signal,
        logger: silent,
        log,
      }),
    );
    await new Promise((r) => setTimeout(r, 2_100));
    ctl.abort();
    await Promise.all(loops);
    expect(failures).toBeGreaterThanOrEqual(6);
    expect(warnings.every((k) => k === "collector:broken")).toBe(true);
    const batches = await spool.pick({ maxSamples: 1000, maxBatches: 100 });
    const ts = batches.map((b) => b.samples[0]?.timestamp);
    expect(batches.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ts).size).toBe(ts.length);
  });
});
