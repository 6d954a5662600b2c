import { Code, ConnectError } from "@connectrpc/connect";
import { FleetError, type FleetErrorKind } from "../../common/errors.js";
import { kindOfGrpcCode } from "../../common/status-codes.js";

/** What a loop does with a failed call (DESIGN §1.2). */
export type Reaction = "drop" | "reregister" | "backoff" | "retry";

export interface CodePolicy {
  /** The loop's reaction once the call has failed for good. */
  reaction: Reaction;
  /** The shared taxonomy's kind (src/common/status-codes.ts, the manager's table read in reverse). */
  kind: FleetErrorKind;
  /** Whether the retry interceptor may try again within the same call. */
  retryInCall: boolean;
  /** Operator action needed: logged at error level. */
  loud: boolean;
}

type PolicyRow = Omit<CodePolicy, "kind">;

/**
 * The one table from a gRPC status code to the daemon's reaction. Codes the
 * manager never sends (DESIGN §1.2 lists eight) get the nearest safe reaction;
 * PERMISSION_DENIED and UNAUTHENTICATED keep the data in the spool and back off
 * (no in-call retry) so fixing the identity or credentials loses nothing.
 */
const POLICY_ROWS: Readonly<Record<Code, PolicyRow>> = {
  [Code.Canceled]: { reaction: "backoff", retryInCall: false, loud: false },
  [Code.Unknown]: { reaction: "backoff", retryInCall: true, loud: false },
  [Code.InvalidArgument]: { reaction: "drop", retryInCall: false, loud: true },
  [Code.DeadlineExceeded]: { reaction: "retry", retryInCall: true, loud: false },
  [Code.NotFound]: { reaction: "reregister", retryInCall: false, loud: false },
  [Code.AlreadyExists]: { reaction: "drop", retryInCall: false, loud: true },
  [Code.PermissionDenied]: { reaction: "backoff", retryInCall: false, loud: true },
  [Code.ResourceExhausted]: { reaction: "backoff", retryInCall: true, loud: false },
  [Code.FailedPrecondition]: { reaction: "backoff", retryInCall: false, loud: false },
  [Code.Aborted]: { reaction: "retry", retryInCall: true, loud: false },
  [Code.OutOfRange]: { reaction: "drop", retryInCall: false, loud: true },
  [Code.Unimplemented]: { reaction: "backoff", retryInCall: false, loud: true },
  [Code.Internal]: { reaction: "backoff", retryInCall: true, loud: false },
  [Code.Unavailable]: { reaction: "backoff", retryInCall: true, loud: false },
  [Code.DataLoss]: { reaction: "backoff", retryInCall: true, loud: false },
  [Code.Unauthenticated]: { reaction: "backoff", retryInCall: false, loud: true },
};

/** POLICY_ROWS with the derived column: each code's kind from the shared table. */
export const CODE_POLICY: Readonly<Record<Code, CodePolicy>> = Object.freeze(
  Object.fromEntries(
    Object.entries(POLICY_ROWS).map(([code, row]) => [
      code,
      Object.freeze({ ...row, kind: kindOfGrpcCode(Number(code)) }),
    ]),
  ) as Record<Code, CodePolicy>,
);

/** The status code of any error; non-Connect errors count as Unknown. */
export function errorCode(err: unknown): Code {
  return err instanceof ConnectError ? err.code : ConnectError.from(err).code;
}

/** The policy for an error. */
export function policyFor(err: unknown): CodePolicy {
  return CODE_POLICY[errorCode(err)];
}

/** Whether the retry interceptor may retry this code within one call. */
export const isRetryableInCall = (code: Code) => CODE_POLICY[code].retryInCall;

/** ConnectError → the shared FleetError taxonomy, keeping the cause and a readable message. */
export function toFleetError(err: unknown): FleetError {
  if (err instanceof FleetError) return err;
  const ce = ConnectError.from(err);
  return new FleetError(kindOfGrpcCode(ce.code), describeError(ce), { cause: err });
}

/** A message an operator can act on, including TLS causes that Connect folds into Unavailable. */
export function describeError(err: unknown): string {
  const ce = err instanceof ConnectError ? err : ConnectError.from(err);
  const chain: string[] = [ce.rawMessage];
  for (let c: unknown = ce.cause; c instanceof Error && chain.length < 5; c = c.cause) {
    const code = (c as NodeJS.ErrnoException).code;
    if (!chain.some((m) => m.includes(c.message))) chain.push(c.message);
    if (code && !chain.some((m) => m.includes(code))) chain.push(code);
  }
  const text = chain.join(": ").replace(/\s*\n\s*/g, " ");
  // The manager's PERMISSION_DENIED names both identities; a CA hint would send the operator astray.
  const hint = ce.code === Code.PermissionDenied ? identityHint(text) : tlsHint(text);
  return `[${Code[ce.code]}] ${text}${hint ? ` — ${hint}` : ""}`;
}

/** For a node_id that is not the client certificate's: what to change. */
function identityHint(text: string): string | undefined {
  return /client certificate/.test(text)
    ? "set daemon.id (or NODE_NAME) to the certificate's node, or give this daemon its own certificate (manager.tls.cert_file/key_file)"
    : undefined;
}

/** What an operator should check, for TLS and connection failures. */
export function tlsHint(text: string): string | undefined {
  const has = (re: RegExp) => re.test(text);
  if (has(/certificate required|alert number 116/i))
    return "the manager requires a client certificate (manager.tls.cert_file/key_file)";
  if (has(/closed the TLS connection/))
    return "it closed the connection right after the handshake, which is how it refuses a client certificate it does not trust: is manager.tls.cert_file signed by the CA the manager trusts?";
  if (has(/unknown ca|bad certificate|certificate unknown|alert number (42|46|48)/i))
    return "the manager rejected our client certificate: is manager.tls.cert_file signed by the CA the manager trusts?";
  if (has(/self[- ]signed|unable to (get|verify)|UNABLE_TO_VERIFY|CERT_|certificate/i))
    return "TLS: the manager's certificate is not signed by manager.tls.ca_file, or its name does not match manager.address";
  if (has(/ECONNREFUSED/)) return "nothing listens at manager.address";
  return undefined;
}
