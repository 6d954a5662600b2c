import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import type { Collector } from "../../src/daemon/collectors/collector.js";
import { createHealth } from "../../src/daemon/health.js";
import { createLimitedLog } from "../../src/daemon/log-limit.js";
import { runCollectLoop } from "../../src/daemon/loops/collect.js";
import { createReporter } from "../../src/daemon/loops/report.js";
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

describe("collect loop bounds", () => {
  it("gives up on a hung collector after its timeout, skips rounds while it is stuck, and stops at once", async () => {
    const spool = await openSpool({
      dir: mkdtempSync(join(tmpdir(), "fleet-collect-hung-")),
      maxBytes: 1 << 20,
    });
    let calls = 0;
    const hung: Collector = {
      type: "disk",
      collect: () => {
        calls++;
        return new Promise(() => {}); // a `df` on a dead NFS mount
      },
    };
    const messages: string[] = [];
    const ctl = new AbortController();
    const loop = runCollectLoop({
      collector: hung,
      intervalMs: 1000,
      timeoutMs: 200,
      spool,
      signal: ctl.signal,
      logger: silent,
      log: (_l, key, _o, msg) => {
        messages.push(`${key}: ${msg}`);
      },
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(calls).toBe(1);
    expect(messages[0]).toMatch(/collector:disk: collector disk failed/);
    expect(messages[1]).toMatch(/still stuck/);
    ctl.abort();
    const started = Date.now();
    await loop;
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("counts a round the spool cannot write as dropped, with its time range, and logs a spool write failure", async () => {
    const spool = await openSpool({
      dir: mkdtempSync(join(tmpdir(), "fleet-collect-full-")),
      maxBytes: 1 << 20,
    });
    spool.append = async () => {
      throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    };
    const ok: Collector = {
      type: "cpu",
      collect: async (now) => [
        { type: "cpu", timestamp: Math.floor(now.getTime() / 1000), labels: {}, values: { v: 1 } },
      ],
    };
    const keys: string[] = [];
    const ctl = new AbortController();
    const loop = runCollectLoop({
      collector: ok,
      intervalMs: 1000,
      spool,
      signal: ctl.signal,
      logger: silent,
      log: (_l, key) => {
        keys.push(key);
      },
    });
    await new Promise((r) => setTimeout(r, 100));
    ctl.abort();
    await loop;
    expect(keys).toEqual(["spool-write"]);
    const s = spool.stats();
    expect(s).toMatchObject({ droppedBatches: 1, droppedSamples: 1 });
    expect(s.droppedFrom).toBeGreaterThan(0);
    expect(s.droppedTo).toBe(s.droppedFrom);
  });
});

describe("reporter", () => {
  it("drops only the malformed batch on INVALID_ARGUMENT and keeps batches on UNAVAILABLE", async () => {
    const stored: number[] = [];
    let down = false;
    const transport = createRouterTransport((router) =>
      router.service(ManagerService, {
        reportMetrics(req) {
          if (down) throw new ConnectError("database down", Code.Unavailable);
          if (req.metrics.some((m) => m.type === "poison"))
            throw new ConnectError("metrics[0].type: bad", Code.InvalidArgument);
          stored.push(...req.metrics.map((m) => Number(m.timestamp)));
          return { success: true, accepted: req.metrics.length };
        },
      }),
    );
    const spool = await openSpool({
      dir: mkdtempSync(join(tmpdir(), "fleet-report-")),
      maxBytes: 1 << 20,
    });
    const sample = (type: string, ts: number) => ({
      type,
      timestamp: ts,
      labels: {},
      values: { v: ts },
    });
    await spool.append([sample("cpu", 1)]);
    await spool.append([sample("poison", 2)]);
    await spool.append([sample("cpu", 3)]);
    const health = createHealth("n", 1000);
    const reporter = createReporter({
      client: createClient(ManagerService, transport),
      nodeId: "n",
      spool,
      health,
      logger: silent,
      log: () => {},
    });
    down = true;
    expect(await reporter.drain(new AbortController().signal)).toBe("failed");
    expect(spool.stats().batches).toBe(3);
    expect(health.lastError?.code).toBe("Unavailable");
    down = false;
    expect(await reporter.drain(new AbortController().signal)).toBe("empty");
    expect(stored.sort()).toEqual([1, 3]);
    expect(spool.stats()).toMatchObject({
      batches: 0,
      droppedBatches: 1,
      droppedFrom: 2,
      droppedTo: 2,
    });
  });
});
