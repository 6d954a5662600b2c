import type { Interceptor } from "@connectrpc/connect";
import { InvalidArgumentError } from "../../common/errors.js";
import { checkingInterceptor } from "./check.js";

/**
 * The first string field (map keys included) holding a NUL character, by
 * proto field path. PostgreSQL text cannot store NUL, so such a value would
 * fail deep in a query as INTERNAL instead of a clear INVALID_ARGUMENT.
 */
export function findNulField(value: unknown, path = "", depth = 0): string | undefined {
  // The common case, no NUL anywhere, is answered without building field paths.
  if (depth === 0 && !hasNul(value, 0)) return undefined;
  if (depth > 32) return undefined;
  if (typeof value === "string") return value.includes("\u0000") ? path || "(message)" : undefined;
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNulField(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === "$typeName") continue;
    const at = path ? `${path}.${k}` : k;
    if (k.includes("\u0000")) return `${at} (key)`;
    const hit = findNulField(v, at, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

/** Whether findNulField would find anything: the same walk, allocating nothing. */
function hasNul(value: unknown, depth: number): boolean {
  if (depth > 32) return false;
  if (typeof value === "string") return value.includes("\u0000");
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasNul(value[i], depth + 1)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    if (!Object.hasOwn(record, k) || k === "$typeName") continue;
    if (k.includes("\u0000") || hasNul(record[k], depth + 1)) return true;
  }
  return false;
}

/**
 * Hostile-input guard for every unary RPC (inside the error mapping):
 * refuses NUL characters in any string with INVALID_ARGUMENT. Its partner
 * against echoed hostile input, the status-message cap, runs outside the
 * error mapping (status-message.ts, applied by the shed interceptor).
 */
export function createInputGuardInterceptor(): Interceptor {
  return checkingInterceptor((req) => {
    if (!req.stream) {
      const field = findNulField(req.message);
      if (field) throw new InvalidArgumentError(field, "must not contain NUL characters");
    }
  });
}
