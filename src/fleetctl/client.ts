import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";

export interface FleetClientOptions {
  /** The manager's HTTP port, e.g. http://127.0.0.1:8080. */
  server: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token: string | undefined;
  /**
   * Deadline of each unary call that does not set its own `timeoutMs` (fleetctl
   * --timeout). Streams (WatchNodes) have none: they run until aborted.
   */
  timeoutMs: number;
  /** PEM of the CA that signed the manager's certificate (--ca / FLEET_CA), for a private CA. */
  ca?: Buffer | undefined;
}

/** FleetService over the Connect protocol (JSON) against the manager's HTTP port. */
export function createFleetClient(opts: FleetClientOptions) {
  const interceptors: Interceptor[] = [];
  const token = opts.token;
  if (token) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    });
  }
  const base = createConnectTransport({
    baseUrl: opts.server.replace(/\/+$/, ""),
    httpVersion: "1.1",
    useBinaryFormat: false,
    interceptors,
    ...(opts.ca ? { nodeOptions: { ca: opts.ca } } : {}),
  });
  // Not the transport's defaultTimeoutMs: that would also cut WatchNodes off.
  const transport: Transport = {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      base.unary(method, signal, timeoutMs ?? opts.timeoutMs, header, input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      base.stream(method, signal, timeoutMs, header, input, contextValues),
  };
  return createClient(FleetService, transport);
}

export type FleetClient = ReturnType<typeof createFleetClient>;
