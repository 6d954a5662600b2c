import { readFileSync } from "node:fs";
import { type Client, Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import { createAttemptTimeoutInterceptor, createDeadlineInterceptor } from "./deadline.js";
import { createErrorMappingInterceptor } from "./error-map.js";
import { describeError, errorCode, tlsHint } from "./errors.js";
import { explainProtocolMismatch } from "./protocol-probe.js";
import { createRetryInterceptor, type RetryOptions } from "./retry.js";
import { probeTls } from "./tls-probe.js";

export type ManagerClient = Client<typeof ManagerService>;

export interface ManagerClientOptions {
  /** host:port, or a full http(s):// URL. */
  address: string;
  timeoutMs: number;
  tls?: { certFile: string; keyFile: string; caFile: string } | undefined;
  /** In-call retry; false turns it off (`--once` keeps a short budget instead). */
  retry?: Partial<RetryOptions> | false;
  /** Extra interceptors, outermost first, before retry and deadline. */
  interceptors?: Interceptor[];
  /** File holding the enrollment token (`manager.token_file`), sent as `Authorization: Bearer`. */
  tokenFile?: string | undefined;
}

export interface ManagerConnection {
  client: ManagerClient;
  /** describeError, plus what a bare TLS connection reports when the call failed at the TLS layer. */
  diagnose(err: unknown): Promise<string>;
  /** Closes the HTTP/2 session so the process can exit. */
  close(): void;
}

/** One long-lived HTTP/2 connection to the manager, with keepalive pings (DESIGN §3). */
export function createManagerConnection(opts: ManagerClientOptions): ManagerConnection {
  const scheme = opts.tls ? "https" : "http";
  const baseUrl = /^https?:\/\//.test(opts.address) ? opts.address : `${scheme}://${opts.address}`;
  if (opts.tls && baseUrl.startsWith("http://"))
    throw new Error(`manager address ${opts.address} is plaintext but TLS is configured`);
  const tlsOptions = opts.tls
    ? {
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        ca: readFileSync(opts.tls.caFile),
        minVersion: "TLSv1.3" as const,
      }
    : {};
  const sessionManager = new Http2SessionManager(
    baseUrl,
    { pingIntervalMs: 10_000, pingTimeoutMs: 3_000, pingIdleConnection: true },
    tlsOptions,
  );
  const interceptors = [
    ...(opts.tokenFile ? [createTokenInterceptor(opts.tokenFile)] : []),
    ...(opts.interceptors ?? []),
    // What comes out of a call is a ConnectError that also carries the shared taxonomy's kind.
    createErrorMappingInterceptor(),
    // manager.timeout bounds the whole call, retries included (DESIGN §3: per call)…
    createDeadlineInterceptor(opts.timeoutMs),
    ...(opts.retry === false ? [] : [createRetryInterceptor(opts.retry ?? {})]),
    // …and each attempt gets what is left of it.
    createAttemptTimeoutInterceptor(),
  ];
  const transport = createGrpcTransport({ baseUrl, interceptors, sessionManager });
  return {
    client: createClient(ManagerService, transport),
    close: () => sessionManager.abort(),
    async diagnose(err) {
      const text = describeError(err);
      const code = errorCode(err);
      if (
        ![Code.Canceled, Code.Aborted, Code.Unavailable, Code.Internal, Code.Unknown].includes(code)
      )
        return text;
      const url = new URL(baseUrl);
      // The wrong port, or TLS on one side only, shows up as a riddle from HTTP/2 or OpenSSL.
      const mismatch = await explainProtocolMismatch(
        opts.address,
        url.hostname,
        Number(url.port || (opts.tls ? 443 : 80)),
        Boolean(opts.tls),
      );
      if (mismatch) return `[${Code[code]}] ${mismatch}`;
      if (!opts.tls) return text;
      const found = await probeTls(url.hostname, Number(url.port || 443), tlsOptions);
      if (!found) return text;
      const hint = tlsHint(found);
      return `${text}; TLS probe: ${found}${hint ? ` — ${hint}` : ""}`;
    },
  };
}

/**
 * Sends the enrollment token from `manager.token_file`, read again on every
 * call so a rotated secret (Kubernetes, compose) is picked up without a restart.
 */
function createTokenInterceptor(tokenFile: string): Interceptor {
  return (next) => (req) => {
    const token = readFileSync(tokenFile, "utf8").trim();
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** A client alone, for callers that never close (tests, one-shot tools). */
export function createManagerClient(opts: ManagerClientOptions): ManagerClient {
  return createManagerConnection(opts).client;
}
