import { ResourceExhaustedError } from "../../common/errors.js";

export type BucketKind = "heartbeat" | "report";

export interface AdmissionOptions {
  heartbeatsPerSecond: number;
  heartbeatBurst: number;
  reportsPerSecond: number;
  reportBurst: number;
  maxInFlight: number;
  trackedNodesMax: number;
  pushbackMinMs: number;
  pushbackSpreadMs: number;
}

/** A per-node rate was exceeded; `retryAfterMs` is when the bucket has a token again. */
export class RateLimitedError extends ResourceExhaustedError {
  override name = "RateLimitedError";
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message, "node_id");
  }
}

/**
 * Admission control: a global cap on unary calls in flight (shed early with
 * UNAVAILABLE rather than queue into a slow collapse), per-node token buckets
 * for heartbeats and reports, and the retry delay every shed answer carries.
 */
export interface Admission {
  /** False when the in-flight cap is reached; otherwise the caller must leave() later. */
  tryEnter(): boolean;
  leave(): void;
  readonly inFlight: number;
  /** Takes one token for the node or throws RateLimitedError. */
  take(kind: BucketKind, nodeId: string): void;
  /**
   * The delay a shed caller is asked to wait, with a share fixed by a hash of
   * the key (the node id), so a fleet pushed back together comes back spread
   * out, not as a stampede: `atLeastMs` × (1 + share) when given (the next
   * token), else min + share × spread.
   */
  pushbackMs(key: string, atLeastMs?: number): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** FNV-1a, 32 bits: a stable, cheap spread of node ids over [0, 1). */
export function hashFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * `now` is the buckets' clock in monotonic milliseconds (the real one by
 * default); tests pass a fake one and move it instead of waiting for refills.
 */
export function createAdmission(
  opts: AdmissionOptions,
  now: () => number = () => performance.now(),
): Admission {
  let inFlight = 0;
  const buckets: Record<BucketKind, Map<string, Bucket>> = {
    heartbeat: new Map(),
    report: new Map(),
  };
  const params: Record<BucketKind, { rate: number; burst: number }> = {
    heartbeat: { rate: opts.heartbeatsPerSecond, burst: opts.heartbeatBurst },
    report: { rate: opts.reportsPerSecond, burst: opts.reportBurst },
  };

  // Node ids come from clients, so the maps are bounded: refilled (idle)
  // buckets go first, then the oldest, down to 90 % of the bound.
  const evict = (map: Map<string, Bucket>, rate: number, burst: number, t: number) => {
    const target = Math.floor(opts.trackedNodesMax * 0.9);
    for (const [id, b] of map) {
      if (map.size <= target) return;
      if (b.tokens + ((t - b.at) / 1000) * rate >= burst) map.delete(id);
    }
    for (const id of map.keys()) {
      if (map.size <= target) return;
      map.delete(id);
    }
  };

  return {
    tryEnter() {
      if (inFlight >= opts.maxInFlight) return false;
      inFlight++;
      return true;
    },
    leave() {
      inFlight = Math.max(0, inFlight - 1);
    },
    get inFlight() {
      return inFlight;
    },
    take(kind, nodeId) {
      const { rate, burst } = params[kind];
      if (rate <= 0) return;
      const map = buckets[kind];
      const t = now();
      let b = map.get(nodeId);
      if (!b) {
        if (map.size >= opts.trackedNodesMax) evict(map, rate, burst, t);
        b = { tokens: burst, at: t };
        map.set(nodeId, b);
      } else {
        b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
        b.at = t;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return;
      }
      const retryAfterMs = Math.ceil(((1 - b.tokens) / rate) * 1000);
      throw new RateLimitedError(
        `node_id: ${kind} rate limit of ${rate}/s (burst ${burst}) exceeded for "${nodeId}"; retry in ${retryAfterMs} ms`,
        retryAfterMs,
      );
    },
    pushbackMs(key, atLeastMs = 0) {
      const share = hashFraction(key);
      // A rate-limited node waits for its next token, spread up to twice that;
      // an overloaded manager spreads everyone over the whole window.
      return Math.round(
        atLeastMs > 0
          ? atLeastMs * (1 + share)
          : opts.pushbackMinMs + share * opts.pushbackSpreadMs,
      );
    },
  };
}
