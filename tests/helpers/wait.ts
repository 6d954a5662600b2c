export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
}

const show = (v: unknown) => {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
};

/**
 * Polls `probe` until it returns something other than undefined, null or
 * false, and returns that; tests wait for events with this, never with a
 * fixed sleep. A probe that throws counts as "not yet" (the database may be
 * restarting); on timeout the error names `what`, the limit and the last
 * probe's result, with its last error as the cause.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, intervalMs = 50 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (last !== undefined && last !== null && last !== false) return last as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const got = lastError === undefined ? `returned ${show(last)}` : `threw ${String(lastError)}`;
      throw new Error(`waitFor: ${what}: not true within ${timeoutMs} ms (last probe ${got})`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
