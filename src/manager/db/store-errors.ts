import { StoreUnavailableError } from "../../common/errors.js";

/**
 * Which database failures are the store being unreachable or busy (DESIGN §1.2:
 * UNAVAILABLE, the daemon backs off and retries) rather than a bug (INTERNAL).
 * Drizzle wraps driver errors, so the whole cause chain is read.
 */

/** Socket errors and postgres.js's own connection codes. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/**
 * SQLSTATEs worth a retry: connection exceptions (08), insufficient resources
 * (53), operator intervention such as a restart (57P0x), serialization and
 * deadlock failures (40001, 40P01), a lock not available (55P03).
 */
const RETRYABLE_SQLSTATE = /^(08|53|57P0[1-4]$|40001$|40P01$|55P03$)/;

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The string codes along the error's cause chain (Drizzle wraps the driver's error). */
function* causeCodes(err: unknown): Generator<string> {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") yield code;
  }
}

/** The error's code if the store is unavailable, else undefined. */
export function storeUnavailableCode(err: unknown): string | undefined {
  for (const code of causeCodes(err)) {
    if (CONNECTION_CODES.has(code)) return code;
    if (SQLSTATE.test(code) && RETRYABLE_SQLSTATE.test(code)) return code;
  }
  return undefined;
}

/**
 * The store's failure as the domain's StoreUnavailableError (the original as
 * its cause), or undefined when `err` is not the store being unreachable. The
 * RPC edge is handed this (interceptors/chain.ts), so it maps database failures
 * without knowing the database.
 */
export function asStoreUnavailable(err: unknown): StoreUnavailableError | undefined {
  const code = storeUnavailableCode(err);
  return code
    ? new StoreUnavailableError(`database unavailable (${code}); retry later`, err)
    : undefined;
}

/** The SQLSTATE the database answered with, anywhere in the cause chain (23505, …). */
export function storeErrorCode(err: unknown): string | undefined {
  for (const code of causeCodes(err)) if (SQLSTATE.test(code)) return code;
  return undefined;
}
