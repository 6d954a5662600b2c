/** Small statistics helpers for latency samples (milliseconds). */

/** The q-quantile (0..1) of the samples by nearest rank; NaN when empty. */
export function quantile(samples: ArrayLike<number>, q: number): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const idx = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[idx] as number;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Rounds to a few significant digits for tables and JSON. */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const mag = Math.floor(Math.log10(Math.abs(v)));
  const factor = 10 ** Math.max(0, digits - 1 - mag);
  return Math.round(v * factor) / factor;
}

/** A growable Float64 sample buffer (avoids boxing millions of numbers). */
export class Samples {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}
