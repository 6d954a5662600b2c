/** Resolves after ms, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

/** ms ± fraction, uniformly (heartbeats use ±10 %). */
export const jitter = (ms: number, fraction: number, random: () => number = Math.random) =>
  ms * (1 - fraction + 2 * fraction * random());

/**
 * Delay before reconnect attempt n (1-based): exponential from `base`, capped,
 * then a random 50–100 % of it, so a fleet that lost its manager together does
 * not come back together.
 */
export function reconnectDelayMs(
  failures: number,
  baseMs: number,
  random: () => number = Math.random,
  capMs = Math.max(baseMs, 60_000),
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return ceiling * (0.5 + 0.5 * random());
}
