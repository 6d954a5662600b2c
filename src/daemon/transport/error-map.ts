import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { FleetError } from "../../common/errors.js";
import { toFleetError } from "./errors.js";

/**
 * A ConnectError that also carries its place in the shared taxonomy
 * (`fleet.kind`, src/common/errors.ts). It stays a ConnectError with the same
 * code, metadata, details and cause, so the retry interceptor, pushback and the
 * loops' code-based policy (policyFor) read it exactly as before.
 */
export class MappedConnectError extends ConnectError {
  readonly fleet: FleetError;
  constructor(original: ConnectError) {
    super(
      original.rawMessage,
      original.code,
      original.metadata,
      original.details as ConstructorParameters<typeof ConnectError>[3],
      original.cause,
    );
    this.fleet = toFleetError(original);
  }

  /** ConnectError's own check accepts any ConnectError-like value; this one wants the real thing. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(MappedConnectError, v);
  }
}

/** The FleetError of a failed call: the one the interceptor attached, else mapped now. */
export const fleetErrorOf = (err: unknown): FleetError =>
  err instanceof MappedConnectError ? err.fleet : toFleetError(err);

/**
 * Error mapping (issue 8): a call that failed for good (after retry and
 * deadline, so outermost of those) comes out as a MappedConnectError. Anything
 * that is not a ConnectError passes through untouched.
 */
export function createErrorMappingInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError && !(err instanceof MappedConnectError))
        throw new MappedConnectError(err);
      throw err;
    }
  };
}
