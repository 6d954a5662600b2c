import { createTokenCheck } from "../bearer-token.js";
import type { HttpRequest, HttpResponse } from "./types.js";

/**
 * The HTTP port's non-RPC paths behind the API token (`/metrics`,
 * `/metrics/fleet`: a Prometheus `authorization` / bearer_token scrape).
 * Returns true when it answered 401; the dashboard's files stay public
 * because they carry no data, only the login form's code.
 */
export function createHttpTokenGate(apiToken: string) {
  const ok = apiToken ? createTokenCheck(apiToken) : undefined;
  return (req: HttpRequest, res: HttpResponse): boolean => {
    if (!ok) return false;
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" && path !== "/metrics/fleet") return false;
    if (ok(req.headers.authorization)) return false;
    res.writeHead(401, {
      "content-type": "text/plain; charset=utf-8",
      "www-authenticate": 'Bearer realm="fleet"',
    });
    res.end("unauthenticated: send Authorization: Bearer <FLEET_API_TOKEN>\n");
    return true;
  };
}
