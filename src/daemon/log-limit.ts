import type { Logger } from "../common/logging.js";

/**
 * Logs a repeating problem once per window per key and says how many were
 * suppressed, so a broken collector or a long outage does not flood the log.
 */
export function createLimitedLog(logger: Logger, windowMs = 60_000) {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (
    level: "warn" | "error",
    key: string,
    obj: Record<string, unknown>,
    msg: string,
  ): void => {
    const now = Date.now();
    const s = seen.get(key);
    if (s && now - s.at < windowMs) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    seen.set(key, { at: now, suppressed: 0 });
    logger[level](suppressed ? { ...obj, suppressed } : obj, msg);
  };
}

export type LimitedLog = ReturnType<typeof createLimitedLog>;
