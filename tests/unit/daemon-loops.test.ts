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
import {
  MAX_CATCH_UP_ROUNDS,
  type MissedTicks,
  runCollectLoop,
} from "../../src/daemon/loops/collect.js";
import { createContact } from "../../src/daemon/loops/contact.js";
import { createReporter, runReportLoop } from "../../src/daemon/loops/report.js";
import { type ClockStep, createSampleClock } from "../../src/daemon/loops/sample-clock.js";
import { jitter, reconnectDelayMs } from "../../src/daemon/loops/timing.js";
import { openSpool } from "../../src/daemon/spool/spool.js";
import { createFakeClock } from "../helpers/fake-clock.js";
import { waitFor } from "../helpers/wait.js";

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

/** A collector stamping each sample with the time it was asked for, and a loop on a fake clock. */
async function gridLoop(
  startWallMs: number,
  opts: { adoptAfterMs?: number; slowStartMs?: number } = {},
) {
  const fc = createFakeClock(startWallMs);
  const spool = await openSpool({
    dir: mkdtempSync(join(tmpdir(), "fleet-collect-grid-")),
    maxBytes: 1 << 24,
  });
  const ts: number[] = [];
  const collector: Collector = {
    type: "cpu",
    collect: async (now) => {
      ts.push(Math.floor(now.getTime() / 1000));
      return [
        { type: "cpu", timestamp: Math.floor(now.getTime() / 1000), labels: {}, values: { v: 1 } },
      ];
    },
  };
  const missed: MissedTicks[] = [];
  const late: number[] = [];
  const steps: ClockStep[] = [];
  const keys: string[] = [];
  const ctl = new AbortController();
  const loop = runCollectLoop({
    collector,
    intervalMs: 1000,
    spool,
    signal: ctl.signal,
    logger: silent,
    log: (_l, key) => {
      keys.push(key);
    },
    clock: fc.clock,
    sampleClock: createSampleClock(fc.clock, {
      adoptAfterMs: opts.adoptAfterMs,
      onStep: (s) => {
        steps.push(s);
      },
    }),
    onMissed: (m) => {
      missed.push(m);
    },
    onLate: (n) => {
      late.push(n);
    },
  });
  if (opts.slowStartMs) fc.stall(opts.slowStartMs);
  await fc.settle(1);
  const stop = async () => {
    ctl.abort();
    await loop;
  };
  return { fc, ts, missed, late, steps, keys, spool, stop };
}

/** Consecutive seconds from..to. */
const seconds = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("collect loop on a fixed grid", () => {
  const T0 = 1_764_000_000; // a whole second, Unix s

  it("stamps each round with its scheduled second, so late timers neither skip nor repeat one", async () => {
    // Started 300 ms into a second: the first round is that second, the next ones on the grid.
    const g = await gridLoop(T0 * 1000 + 300);
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 60; i++) {
      // Each timer fires 0–990 ms late (a busy event loop); never more than an interval.
      g.fc.stall(g.fc.nextDue - g.fc.mono + Math.floor(random() * 990));
      await g.fc.settle(1);
    }
    await g.stop();
    expect(g.ts).toEqual(seconds(T0, T0 + 60));
    expect(g.missed).toEqual([]);
    const spooled = await g.spool.pick({ maxSamples: 1000, maxBatches: 100 });
    expect(spooled.map((b) => b.samples[0]?.timestamp).sort()).toEqual(seconds(T0, T0 + 60));
  });

  it("a timer later than an interval is caught up: one reading for each second it skipped", async () => {
    const g = await gridLoop(T0 * 1000);
    await g.fc.advance(3000);
    // The event loop blocked for 2.5 s: rounds T0+4 and T0+5 are taken by T0+6's reading.
    g.fc.stall(g.fc.nextDue - g.fc.mono + 2500);
    await g.fc.settle(1);
    await g.fc.advance(3000);
    await g.stop();
    expect(g.ts).toEqual([...seconds(T0, T0 + 3), ...seconds(T0 + 6, T0 + 9)]);
    expect(g.missed).toEqual([]);
    expect(g.late).toEqual([2]);
    expect(g.keys).toEqual(["late:cpu"]);
    const spooled = await g.spool.pick({ maxSamples: 1000, maxBatches: 100 });
    const stamps = spooled.flatMap((b) => b.samples.map((x) => x.timestamp)).sort();
    expect(stamps).toEqual(seconds(T0, T0 + 9));
  });

  it("a timer later than the catch-up bound skips rounds without duplicates, and counts them with their range", async () => {
    const g = await gridLoop(T0 * 1000);
    await g.fc.advance(3000);
    // Woken 9.5 s late, in T0+13: T0+8..T0+12 are caught up with its reading, T0+4..T0+7 missed.
    g.fc.stall(g.fc.nextDue - g.fc.mono + 9500);
    await g.fc.settle(1);
    await g.fc.advance(2000);
    await g.stop();
    expect(g.missed).toEqual([
      { type: "cpu", ticks: 4, fromTs: T0 + 4, toTs: T0 + 7, reason: "late" },
    ]);
    expect(g.late).toEqual([MAX_CATCH_UP_ROUNDS]);
    expect(g.keys.sort()).toEqual(["late:cpu", "missed:cpu:late"]);
    const spooled = await g.spool.pick({ maxSamples: 1000, maxBatches: 100 });
    const stamps = spooled.flatMap((b) => b.samples.map((x) => x.timestamp)).sort();
    expect(stamps).toEqual([...seconds(T0, T0 + 3), ...seconds(T0 + 8, T0 + 15)]);
  });

  it("a slow start is not a missed round: the first one is the second the loop gets going in", async () => {
    const g = await gridLoop(T0 * 1000 + 900, { slowStartMs: 1_500 });
    await g.fc.advance(2000);
    await g.stop();
    expect(g.ts).toEqual(seconds(T0 + 2, T0 + 4));
    expect(g.missed).toEqual([]);
  });

  it("keeps monotonic time across a clock stepped back and forward by 10 minutes", async () => {
    const g = await gridLoop(T0 * 1000 + 500);
    await g.fc.advance(5000);
    g.fc.stepWall(-600_000);
    await g.fc.advance(10_000);
    g.fc.stepWall(+600_000);
    await g.fc.advance(10_000);
    g.fc.stepWall(+600_000);
    await g.fc.advance(10_000);
    g.fc.stepWall(-600_000);
    await g.fc.advance(10_000);
    await g.stop();
    expect(g.ts).toEqual(seconds(T0, T0 + 45));
    expect(g.missed).toEqual([]);
    expect(g.steps).toEqual([
      { offsetMs: -600_000, adopted: false },
      { offsetMs: 600_000, adopted: false },
    ]);
  });

  it("adopts a step that holds: ahead without counting lost rounds, back after the last stamped second, counted", async () => {
    const g = await gridLoop(T0 * 1000, { adoptAfterMs: 5_000 });
    await g.fc.advance(2000);
    g.fc.stepWall(+600_000);
    await g.fc.advance(8000);
    // Samples kept monotonic time for 5 s, then followed the system clock ahead.
    expect(g.ts).toEqual([...seconds(T0, T0 + 7), ...seconds(T0 + 608, T0 + 610)]);
    expect(g.missed).toEqual([]);
    g.fc.stepWall(-600_000);
    await g.fc.advance(10_000);
    // 5 s on monotonic time (T0+611..615), then the system clock (T0+16) is behind the
    // last stamped second: the rounds until it passes T0+615 are counted, not reused.
    expect(g.ts.at(-1)).toBe(T0 + 615);
    expect(g.missed).toEqual([
      { type: "cpu", ticks: 600, fromTs: T0 + 16, toTs: T0 + 615, reason: "clock" },
    ]);
    await g.fc.advance(600_000);
    await g.stop();
    expect(new Set(g.ts).size).toBe(g.ts.length);
    expect(g.ts.at(-1)).toBe(T0 + 620);
    expect(g.ts.filter((t) => t > T0 + 615)[0]).toBe(T0 + 616);
    expect(g.steps.map((s) => s.adopted)).toEqual([false, true, false, true]);
  });
});

describe("collect loop", () => {
  it("a failing collector fails alone", async () => {
    const fc = createFakeClock(1_764_000_000_000);
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
    const sampleClock = createSampleClock(fc.clock);
    const loops = [broken, ok].map((collector) =>
      runCollectLoop({
        collector,
        intervalMs: 1000,
        spool,
        signal: ctl.signal,
        logger: silent,
        log,
        clock: fc.clock,
        sampleClock,
      }),
    );
    await fc.settle(2);
    await fc.advance(5000, 2);
    ctl.abort();
    await Promise.all(loops);
    expect(failures).toBe(6);
    // Its failures are logged and counted as missed rounds, under its own keys only.
    expect(new Set(warnings)).toEqual(new Set(["collector:broken", "missed:broken:failed"]));
    const batches = await spool.pick({ maxSamples: 1000, maxBatches: 100 });
    const ts = batches.map((b) => b.samples[0]?.timestamp).sort();
    expect(ts).toEqual(seconds(1_764_000_000, 1_764_000_005));
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
    // The first round gives up after 200 ms; the next (1 s on) finds it still stuck.
    await waitFor("the next round skipped as stuck", () =>
      messages.some((m) => /still stuck/.test(m)),
    );
    expect(calls).toBe(1);
    expect(messages.join("\n")).toMatch(/collector:disk: collector disk failed/);
    expect(messages[0]).toMatch(/missed 1 round\(s\) \(failed\)/);
    expect(messages.slice(1).join("\n")).toMatch(/missed 1 round\(s\) \(stuck\)/);
    expect(messages.slice(1).join("\n")).toMatch(/still stuck/);
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
    await waitFor("the first round dropped", () => spool.stats().droppedBatches > 0);
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

describe("contact: a success on any loop ends every loop's backoff", () => {
  it("ends a backoff at the next contact, at once for contact since, and not on abort", async () => {
    const c = createContact();
    const ctl = new AbortController();
    const since = c.generation;
    const waiting = c.backoff(3_600_000, since, ctl.signal);
    c.reached();
    expect(await waiting).toBe(true);
    // Contact after the failure but before the backoff began counts too.
    expect(await c.backoff(3_600_000, since, ctl.signal)).toBe(true);
    const aborted = c.backoff(3_600_000, c.generation, ctl.signal);
    ctl.abort();
    expect(await aborted).toBe(false);
    expect(await c.backoff(0, c.generation, new AbortController().signal)).toBe(false);
  });

  it("the report loop sends at once when a heartbeat gets through, instead of sitting out its backoff", async () => {
    let down = true;
    let calls = 0;
    const stored: number[] = [];
    const transport = createRouterTransport((router) =>
      router.service(ManagerService, {
        reportMetrics(req) {
          calls++;
          if (down) throw new ConnectError("manager restarting", Code.Unavailable);
          stored.push(...req.metrics.map((m) => Number(m.timestamp)));
          return { success: true, accepted: req.metrics.length };
        },
      }),
    );
    const spool = await openSpool({
      dir: mkdtempSync(join(tmpdir(), "fleet-report-contact-")),
      maxBytes: 1 << 20,
    });
    const contact = createContact();
    const reporter = createReporter({
      client: createClient(ManagerService, transport),
      nodeId: "n",
      spool,
      health: createHealth("n", 1000),
      logger: silent,
      log: () => {},
      contact,
    });
    const ctl = new AbortController();
    const loop = runReportLoop({
      reporter,
      spool,
      registration: { ensure: async () => true, invalidate: () => {} },
      signal: ctl.signal,
      callSignal: ctl.signal,
      // A backoff of an hour: only contact can end it within the test.
      reconnectIntervalMs: 3_600_000,
      lingerMs: 0,
      random: () => 1,
      contact,
    });
    const failedAt = contact.generation;
    await spool.append([{ type: "cpu", timestamp: 1, labels: {}, values: { v: 1 } }]);
    await waitFor("a failed report", () => calls >= 1);
    down = false;
    await spool.append([{ type: "cpu", timestamp: 2, labels: {}, values: { v: 1 } }]);
    expect(contact.generation).toBe(failedAt);
    contact.reached(); // the heartbeat loop got through
    await waitFor("the backlog sent", () => stored.length === 2);
    ctl.abort();
    await loop;
    expect(stored.sort()).toEqual([1, 2]);
    expect(spool.stats().batches).toBe(0);
  });
});
