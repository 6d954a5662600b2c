import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { reachabilityInterceptor } from "./connection.js";

const TOKEN_KEY = "fleet.apiToken";

/** The API token the user entered (FLEET_API_TOKEN), kept in this browser only. */
export function apiToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function setApiToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

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
