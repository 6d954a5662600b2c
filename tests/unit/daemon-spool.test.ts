import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { MetricSample } from "../../src/common/types.js";
import { openSpool } from "../../src/daemon/spool/spool.js";

const sample = (ts: number, type = "cpu"): MetricSample => ({
  type,
  timestamp: ts,
  labels: {},
  values: { usage_percent: ts % 100 },
});
const tmp = () => mkdtempSync(join(tmpdir(), "fleet-spool-"));

describe("spool", () => {
  it("keeps batches as collected across a reopen, and deletes them only on ack", async () => {
    const dir = tmp();
    const a = await openSpool({ dir, maxBytes: 1 << 20 });
    await a.append([sample(100), sample(100, "memory")]);
    await a.append([sample(101)]);
    const b = await openSpool({ dir, maxBytes: 1 << 20 });
    expect(b.stats()).toMatchObject({ batches: 2, oldestTimestamp: 100 });
    const picked = await b.pick({ maxSamples: 100, maxBatches: 10 });
    expect(picked.flatMap((p) => p.samples)).toEqual(
      expect.arrayContaining([sample(100), sample(100, "memory"), sample(101)]),
    );
    // In flight: not picked twice; released: pickable again.
    expect(await b.pick({ maxSamples: 100, maxBatches: 10 })).toEqual([]);
    b.release(picked.map((p) => p.seq));
    const again = await b.pick({ maxSamples: 100, maxBatches: 10 });
    expect(again).toHaveLength(2);
    await b.ack(again.map((p) => p.seq));
    expect(b.stats()).toMatchObject({ batches: 0, bytes: 0 });
    expect(readdirSync(dir)).toEqual([]);
    // Sequence numbers continue after a reopen, so names never collide.
    const c = await openSpool({ dir, maxBytes: 1 << 20 });
    expect((await c.append([sample(5)])).seq).toBeGreaterThan(0);
  });

  it("ignores a half-written temp file (crash mid-write) and quarantines a damaged batch", async () => {
    const dir = tmp();
    const a = await openSpool({ dir, maxBytes: 1 << 20 });
    await a.append([sample(1)]);
    writeFileSync(join(dir, "0000000000000002-2-2-1.batch.tmp"), '{"v":1,"samples":[{"ty');
    writeFileSync(join(dir, "0000000000000003-3-3-1.batch"), "garbage");
    const b = await openSpool({ dir, maxBytes: 1 << 20 });
    expect(readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false);
    const picked = await b.pick({ maxSamples: 100, maxBatches: 10 });
    expect(picked.flatMap((p) => p.samples)).toEqual([sample(1)]);
    expect(b.stats()).toMatchObject({ droppedBatches: 1, droppedFrom: 3, droppedTo: 3 });
    expect(readdirSync(dir)).toContain("0000000000000003-3-3-1.batch.corrupt");
  });

  it("is bounded: the oldest batches go first and the gap is recorded", async () => {
    const dir = tmp();
    const drops: number[][] = [];
    const s = await openSpool({ dir, maxBytes: 2_000, onDrop: (d) => drops.push(d.seqs) });
    for (let ts = 1000; ts < 1040; ts++) await s.append([sample(ts)]);
    const st = s.stats();
    expect(st.bytes).toBeLessThanOrEqual(2_000);
    expect(st.droppedBatches).toBeGreaterThan(0);
    expect(st.droppedBatches + st.batches).toBe(40);
    expect(st.droppedFrom).toBe(1000);
    expect(st.droppedTo).toBe(1000 + st.droppedBatches - 1);
    expect(st.oldestTimestamp).toBe(1000 + st.droppedBatches);
    expect(drops.flat()[0]).toBe(1);
  });

  it("sends the newest batch first, then drains the backlog oldest first", async () => {
    const s = await openSpool({ dir: tmp(), maxBytes: 1 << 20 });
    for (let ts = 1; ts <= 10; ts++) await s.append([sample(ts), sample(ts, "memory")]);
    const first = await s.pick({ maxSamples: 6, maxBatches: 64 });
    expect(first.map((b) => b.samples[0]?.timestamp)).toEqual([10, 1, 2]);
    const second = await s.pick({ maxSamples: 6, maxBatches: 64 });
    expect(second.map((b) => b.samples[0]?.timestamp)).toEqual([9, 3, 4]);
  });

  it("gives half a call to the newest batches and half to the backlog", async () => {
    const s = await openSpool({ dir: tmp(), maxBytes: 1 << 20 });
    for (let ts = 1; ts <= 20; ts++) await s.append([sample(ts)]);
    const picked = await s.pick({ maxSamples: 1000, maxBatches: 8 });
    expect(picked.map((b) => b.samples[0]?.timestamp)).toEqual([20, 19, 18, 17, 1, 2, 3, 4]);
    // With no backlog, one call takes everything.
    const all = await s.pick({ maxSamples: 1000, maxBatches: 64 });
    expect(all).toHaveLength(12);
  });

  it("wakes a waiting sender on append", async () => {
    const s = await openSpool({ dir: tmp(), maxBytes: 1 << 20 });
    let woke = false;
    const waiting = s.waitForData(new AbortController().signal).then(() => {
      woke = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBe(false);
    await s.append([sample(1)]);
    await waiting;
    expect(woke).toBe(true);
  });

  it("an I/O error reading a batch is thrown, not taken for corruption; the batch stays", async () => {
    const dir = tmp();
    const spool = await openSpool({ dir, maxBytes: 1 << 20 });
    const b = await spool.append([sample(300)]);
    const name = readdirSync(dir).find((n) => n.endsWith(".batch")) as string;
    const file = join(dir, name);
    // Make the read fail with an errno (EISDIR), as EACCES or EIO would.
    renameSync(file, `${file}.keep`);
    mkdirSync(file);
    await expect(spool.pick({ maxSamples: 100, maxBatches: 10 })).rejects.toMatchObject({
      code: "EISDIR",
    });
    expect(readdirSync(dir).some((n) => n.endsWith(".corrupt"))).toBe(false);
    expect(spool.stats()).toMatchObject({ batches: 1, droppedBatches: 0 });
    rmdirSync(file);
    renameSync(`${file}.keep`, file);
    const picked = await spool.pick({ maxSamples: 100, maxBatches: 10 });
    expect(picked.map((p) => p.seq)).toEqual([b.seq]);
  });

  it("a failed append leaves no temp file behind", async () => {
    const dir = tmp();
    const spool = await openSpool({ dir, maxBytes: 1 << 20 });
    // The rename into place fails (a directory sits at the batch's name), as a full disk would fail a write.
    mkdirSync(join(dir, `${"1".padStart(16, "0")}-400-400-1.batch`));
    await expect(spool.append([sample(400)])).rejects.toThrow();
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(spool.stats().batches).toBe(0);
  });
});
