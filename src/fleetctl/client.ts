import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";

export interface FleetClientOptions {
  /** The manager's HTTP port, e.g. http://127.0.0.1:8080. */
  server: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token: string | undefined;
  /** Per-call deadline for unary calls. */
  timeoutMs: number;
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
  const transport = createConnectTransport({
    baseUrl: opts.server.replace(/\/+$/, ""),
    httpVersion: "1.1",
    useBinaryFormat: false,
    interceptors,
  });
  return createClient(FleetService, transport);
}

export type FleetClient = ReturnType<typeof createFleetClient>;
