import { readFileSync } from "node:fs";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import { createDeadlineInterceptor } from "./deadline.js";
import { createRetryInterceptor, type RetryOptions } from "./retry.js";

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
}

export interface ManagerConnection {
  client: ManagerClient;
  /** Closes the HTTP/2 session so the process can exit. */
  close(): void;
}

/** One long-lived HTTP/2 connection to the manager, with keepalive pings (DESIGN §3). */
export function createManagerConnection(opts: ManagerClientOptions): ManagerConnection {
  const scheme = opts.tls ? "https" : "http";
  const baseUrl = /^https?:\/\//.test(opts.address) ? opts.address : `${scheme}://${opts.address}`;
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
    ...(opts.interceptors ?? []),
    ...(opts.retry === false ? [] : [createRetryInterceptor(opts.retry ?? {})]),
    // Innermost, so each attempt gets the whole manager.timeout.
    createDeadlineInterceptor(opts.timeoutMs),
  ];
  const transport = createGrpcTransport({ baseUrl, interceptors, sessionManager });
  return {
    client: createClient(ManagerService, transport),
    close: () => sessionManager.abort(),
  };
}

/** A client alone, for callers that never close (tests, one-shot tools). */
export function createManagerClient(opts: ManagerClientOptions): ManagerClient {
  return createManagerConnection(opts).client;
}
