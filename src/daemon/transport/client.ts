import { readFileSync } from "node:fs";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ManagerService } from "../../../gen/manager/manager_pb.js";

export type ManagerClient = Client<typeof ManagerService>;

export interface ManagerClientOptions {
  /** host:port, or a full http(s):// URL. */
  address: string;
  timeoutMs: number;
  tls?: { certFile: string; keyFile: string; caFile: string } | undefined;
  interceptors?: Interceptor[];
}

/** One long-lived HTTP/2 connection to the manager, with keepalive pings (DESIGN §3). */
export function createManagerClient(opts: ManagerClientOptions): ManagerClient {
  const scheme = opts.tls ? "https" : "http";
  const baseUrl = /^https?:\/\//.test(opts.address) ? opts.address : `${scheme}://${opts.address}`;
  const transport = createGrpcTransport({
    baseUrl,
    defaultTimeoutMs: opts.timeoutMs,
    interceptors: opts.interceptors ?? [],
    pingIntervalMs: 10_000,
    pingTimeoutMs: 3_000,
    pingIdleConnection: true,
    nodeOptions: opts.tls
      ? {
          cert: readFileSync(opts.tls.certFile),
          key: readFileSync(opts.tls.keyFile),
          ca: readFileSync(opts.tls.caFile),
          minVersion: "TLSv1.3",
        }
      : {},
  });
  return createClient(ManagerService, transport);
}
