import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { MetricSample } from "../../common/types.js";

/** One spooled batch as collected; resent unchanged, so the manager's dedup key holds. */
export interface SpoolBatch {
  seq: number;
  samples: MetricSample[];
}

interface Entry {
  seq: number;
  file: string;
  bytes: number;
  minTs: number;
  maxTs: number;
  count: number;
}

export interface SpoolStats {
  batches: number;
  bytes: number;
  oldestTimestamp: number;
  /** Batches dropped since start (bound reached, or rejected as malformed, or unreadable). */
  droppedBatches: number;
  droppedSamples: number;
  /** The time range the dropped batches covered (Unix seconds), 0 when none. */
  droppedFrom: number;
  droppedTo: number;
}

export interface Spool {
  /** Writes a batch durably; resolves once it is on disk. */
  append(samples: MetricSample[]): Promise<SpoolBatch>;
  /**
   * Batches to send next: up to half the limits from the newest (fresh data is
   * never starved), the rest from the oldest (the backlog drains in order).
   * Picked batches are in flight until acked or released.
   */
  pick(limits: { maxSamples: number; maxBatches: number }): Promise<SpoolBatch[]>;
  /** The manager stored these: delete them. */
  ack(seqs: readonly number[]): Promise<void>;
  /** Sending failed: they become pickable again. */
  release(seqs: readonly number[]): void;
  /** Give up on these (the manager rejected them as malformed). */
  drop(seqs: readonly number[], reason: string): Promise<void>;
  /** Counts a round that never reached the spool (append failed) as dropped, with its time range. */
  recordLoss(samples: readonly MetricSample[]): void;
  stats(): SpoolStats;
  /** Resolves at the next append, or when the signal aborts. */
  waitForData(signal: AbortSignal): Promise<void>;
  readonly dir: string;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  onDrop?: (info: { seqs: number[]; samples: number; reason: string }) => void;
}

const NAME = /^(\d{16})-(\d+)-(\d+)-(\d+)\.batch$/;

/**
 * A durable on-disk queue, one file per batch: written to a temp name, fsynced,
 * renamed into place and the directory fsynced. A crash mid-write leaves only a
 * temp file (removed at open), never a damaged batch; the batch's sequence and
 * time range are in its name, so opening reads no data.
 */
export async function openSpool(opts: SpoolOptions): Promise<Spool> {
  await mkdir(opts.dir, { recursive: true, mode: 0o750 });
  const entries: Entry[] = [];
  for (const name of await readdir(opts.dir)) {
    const m = NAME.exec(name);
    if (!m) {
      if (name.endsWith(".tmp")) await unlink(join(opts.dir, name));
      continue;
    }
    const file = join(opts.dir, name);
    entries.push({
      seq: Number(m[1]),
      file,
      bytes: (await stat(file)).size,
      minTs: Number(m[2]),
      maxTs: Number(m[3]),
      count: Number(m[4]),
    });
  }
  entries.sort((a, b) => a.seq - b.seq);
  let nextSeq = (entries.at(-1)?.seq ?? 0) + 1;
  let bytes = entries.reduce((n, e) => n + e.bytes, 0);
  const inFlight = new Set<number>();
  const dropped = { batches: 0, samples: 0, from: 0, to: 0 };
  let waiters: (() => void)[] = [];

  const remove = (seq: number) => {
    const i = entries.findIndex((e) => e.seq === seq);
    if (i < 0) return undefined;
    const [e] = entries.splice(i, 1);
    bytes -= (e as Entry).bytes;
    inFlight.delete(seq);
    return e as Entry;
  };
  const unlinkQuiet = async (file: string) => {
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  };
  /** Adds to the dropped counters and widens the dropped time range. */
  const countDropped = (batches: number, samples: number, from: number, to: number) => {
    dropped.batches += batches;
    dropped.samples += samples;
    dropped.from = dropped.from ? Math.min(dropped.from, from) : from;
    dropped.to = Math.max(dropped.to, to);
  };
  const recordDrop = (gone: Entry[], reason: string) => {
    if (gone.length === 0) return;
    const samples = gone.reduce((n, e) => n + e.count, 0);
    countDropped(
      gone.length,
      samples,
      Math.min(...gone.map((e) => e.minTs)),
      Math.max(...gone.map((e) => e.maxTs)),
    );
    opts.onDrop?.({ seqs: gone.map((e) => e.seq), samples, reason });
  };
  const fsyncDir = async () => {
    const dh = await open(opts.dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  };
  const readBatch = async (e: Entry): Promise<MetricSample[] | undefined> => {
    try {
      const doc = JSON.parse(await readFile(e.file, "utf8")) as {
        v: number;
        samples: MetricSample[];
      };
      if (doc.v !== 1 || !Array.isArray(doc.samples))
        throw new Error(`unknown batch format v=${doc.v}`);
      return doc.samples;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      // An I/O error (EACCES, EMFILE, EIO…) says nothing about the batch: it stays for the next try.
      if (typeof code === "string") throw err;
      // Bad JSON or an unknown format, only possible after disk damage: keep the file aside for a human, count it as dropped.
      remove(e.seq);
      await rename(e.file, `${e.file}.corrupt`).catch(() => unlinkQuiet(e.file));
      recordDrop([e], `unreadable spool file: ${(err as Error).message}`);
      return undefined;
    }
  };

  return {
    dir: opts.dir,
    async append(samples) {
      const seq = nextSeq++;
      const ts = samples.map((s) => s.timestamp);
      const minTs = ts.length ? Math.min(...ts) : 0;
      const maxTs = ts.length ? Math.max(...ts) : 0;
      const name = `${String(seq).padStart(16, "0")}-${minTs}-${maxTs}-${samples.length}.batch`;
      const file = join(opts.dir, name);
      const tmp = `${file}.tmp`;
      const data = JSON.stringify({ v: 1, samples });
      try {
        const fh = await open(tmp, "wx", 0o640);
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, file);
        await fsyncDir();
      } catch (err) {
        // Disk full or similar: leave nothing behind that a later open would half-trust.
        await unlinkQuiet(tmp).catch(() => {});
        await unlinkQuiet(file).catch(() => {});
        throw err;
      }
      const entry: Entry = {
        seq,
        file,
        bytes: Buffer.byteLength(data),
        minTs,
        maxTs,
        count: samples.length,
      };
      entries.push(entry);
      bytes += entry.bytes;
      // Over the bound: drop the oldest batches that are not being sent right now.
      const gone: Entry[] = [];
      while (bytes > opts.maxBytes) {
        const victim = entries.find((e) => e.seq !== seq && !inFlight.has(e.seq));
        if (!victim) break;
        remove(victim.seq);
        await unlinkQuiet(victim.file);
        gone.push(victim);
      }
      recordDrop(gone, "spool full (oldest dropped first)");
      const w = waiters;
      waiters = [];
      for (const wake of w) wake();
      return { seq, samples };
    },
    async pick({ maxSamples, maxBatches }) {
      const out: SpoolBatch[] = [];
      let count = 0;
      // Uses the entry counts from the file names, so a full call reads no file it will not send.
      const take = async (e: Entry, batchLimit: number, sampleLimit: number) => {
        if (inFlight.has(e.seq)) return true;
        if (out.length >= batchLimit) return false;
        if (out.length > 0 && count + e.count > sampleLimit) return false;
        const samples = await readBatch(e);
        if (!samples) return true;
        inFlight.add(e.seq);
        out.push({ seq: e.seq, samples });
        count += samples.length;
        return true;
      };
      const snapshot = entries.filter((e) => !inFlight.has(e.seq));
      try {
        // Half the call for the newest batches, so fresh data is never starved by a backlog…
        for (let i = snapshot.length - 1; i >= 0; i--) {
          const e = snapshot[i] as Entry;
          if (!(await take(e, Math.max(1, maxBatches / 2), maxSamples / 2))) break;
        }
        // …and the rest for the backlog, oldest first, so it drains in order.
        for (const e of snapshot) {
          if (!(await take(e, maxBatches, maxSamples))) break;
        }
      } catch (err) {
        // An I/O error: nothing picked stays in flight, everything stays spooled.
        for (const b of out) inFlight.delete(b.seq);
        throw err;
      }
      return out;
    },

    async ack(seqs) {
      for (const seq of seqs) {
        const e = remove(seq);
        if (e) await unlinkQuiet(e.file);
      }
    },
    release(seqs) {
      for (const seq of seqs) inFlight.delete(seq);
    },
    async drop(seqs, reason) {
      const gone: Entry[] = [];
      for (const seq of seqs) {
        const e = remove(seq);
        if (e) {
          await unlinkQuiet(e.file);
          gone.push(e);
        }
      }
      recordDrop(gone, reason);
    },
    recordLoss(samples) {
      if (samples.length === 0) return;
      const ts = samples.map((x) => x.timestamp);
      countDropped(1, samples.length, Math.min(...ts), Math.max(...ts));
    },
    stats() {
      return {
        batches: entries.length,
        bytes,
        oldestTimestamp: entries[0]?.minTs ?? 0,
        droppedBatches: dropped.batches,
        droppedSamples: dropped.samples,
        droppedFrom: dropped.from,
        droppedTo: dropped.to,
      };
    },
    waitForData(signal) {
      if (entries.some((e) => !inFlight.has(e.seq)) || signal.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        waiters.push(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };
}
