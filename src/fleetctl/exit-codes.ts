import { Code, ConnectError } from "@connectrpc/connect";

/** fleetctl's exit codes, for scripts (documented in `fleetctl --help` and the README). */
export const EXIT = {
  ok: 0,
  /** Anything else: server error, bad response, internal failure. */
  error: 1,
  /** Bad command line. */
  usage: 2,
  /** The node (or other object) does not exist. */
  notFound: 3,
  /** Missing or rejected credentials (--token / FLEET_API_TOKEN). */
  auth: 4,
  /** The manager cannot be reached, or is overloaded or shutting down. */
  unavailable: 5,
  /** The server rejected an argument (INVALID_ARGUMENT). */
  invalidArgument: 6,
} as const;

/** A bad command line; main prints the message and the usage hint, then exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An argument the manager accepted but that names nothing there (e.g. an unknown --type): exit 6. */
export class ArgumentError extends Error {
  override name = "ArgumentError";
}

/** The exit code of each status code a script can act on; every other code is EXIT.error. */
const EXIT_OF_CODE: Readonly<Partial<Record<Code, number>>> = {
  [Code.NotFound]: EXIT.notFound,
  [Code.Unauthenticated]: EXIT.auth,
  [Code.PermissionDenied]: EXIT.auth,
  [Code.Unavailable]: EXIT.unavailable,
  [Code.DeadlineExceeded]: EXIT.unavailable,
  [Code.InvalidArgument]: EXIT.invalidArgument,
};

/** The exit code for an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof ArgumentError) return EXIT.invalidArgument;
  if (!(err instanceof ConnectError)) return EXIT.error;
  return EXIT_OF_CODE[err.code] ?? EXIT.error;
}
