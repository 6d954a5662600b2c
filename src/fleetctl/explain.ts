import { Code, ConnectError } from "@connectrpc/connect";

/** Codes a failure below the protocol comes out as (connection reset, TLS, HTTP/2 errors). */
const TRANSPORT_CODES = new Set([
  Code.Unknown,
  Code.Canceled,
  Code.Aborted,
  Code.Internal,
  Code.Unavailable,
]);

import { probeProtocol, speaksTls } from "../common/protocol-probe.js";

const causeText = (err: unknown): string => {
  const parts: string[] = [];
  for (let c: unknown = err; c instanceof Error && parts.length < 6; c = c.cause) {
    parts.push(c.message, String((c as NodeJS.ErrnoException).code ?? ""));
  }
  return parts.join(" ");
};

/**
 * One line saying what to fix when a call failed below the Connect protocol
 * (the gRPC port instead of the HTTP port, http vs https, a private CA), or
 * undefined when the call's own message already says it.
 */
export async function explainTransportError(
  err: unknown,
  server: string,
  caFile: string | undefined,
): Promise<string | undefined> {
  if (err instanceof ConnectError && !TRANSPORT_CODES.has(err.code)) return undefined;
  const text = causeText(err);
  const url = new URL(server);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (
    /unable to verify|self[- ]signed|UNABLE_TO_VERIFY|SELF_SIGNED|CERT_UNTRUSTED|unable to get/i.test(
      text,
    )
  ) {
    return caFile
      ? `--server ${server}: the manager's certificate is not signed by --ca ${caFile} (or its name does not match ${url.hostname})`
      : `--server ${server}: the manager's certificate is signed by a CA this machine does not trust; pass --ca FILE (env FLEET_CA), e.g. the ca.pem written by fleet-manager certs`;
  }
  const found = await probeProtocol(url.hostname, port);
  if (found === "h2c")
    return `--server ${server} is the manager's gRPC port (HTTP/2 only, for daemons); fleetctl talks to its HTTP port (the manager's FLEET_HTTP_ADDR, default http://127.0.0.1:8080)`;
  if (url.protocol === "https:" && found === "http1")
    return `--server ${server}: the manager answers plaintext HTTP there; use http://${url.host}`;
  if (url.protocol === "http:" && found !== "unreachable" && (await speaksTls(url.hostname, port)))
    return `--server ${server}: the manager speaks TLS there (it sets FLEET_TLS_CERT); use https://${url.host} (and --ca FILE for a private CA)`;
  return undefined;
}
