import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { reachabilityInterceptor } from "./connection.js";
import { apiToken } from "./token.js";

const bearer: Interceptor = (next) => (req) => {
  const token = apiToken();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** FleetService through the generated client, Connect protocol (JSON) on this origin. */
export const fleet = createClient(
  FleetService,
  createConnectTransport({
    baseUrl: window.location.origin,
    interceptors: [bearer, reachabilityInterceptor],
  }),
);

/** True when the manager wants (another) API token. */
export function needsToken(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return code === Code.Unauthenticated || code === Code.PermissionDenied;
}
