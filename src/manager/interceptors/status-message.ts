import { ConnectError } from "@connectrpc/connect";

/** Longest status message sent back; longer ones (echoing hostile input) are cut. */
export const MAX_STATUS_MESSAGE = 1024;

/**
 * A ConnectError whose message fits a trailer: hostile input echoed back must
 * not break the response. Applied to mapped errors only, so it runs outside
 * the error interceptor (interceptors/chain.ts).
 */
export function capStatusMessage(err: ConnectError): ConnectError {
  if (err.rawMessage.length <= MAX_STATUS_MESSAGE) return err;
  return new ConnectError(
    `${err.rawMessage.slice(0, MAX_STATUS_MESSAGE)}… (${err.rawMessage.length} characters)`,
    err.code,
    err.metadata,
    err.details.filter((d) => "desc" in d) as ConstructorParameters<typeof ConnectError>[3],
    err.cause,
  );
}
