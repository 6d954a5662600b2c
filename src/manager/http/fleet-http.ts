import type { Logger } from "../../common/logging.js";
import type { FleetQueryService } from "../services/fleet-query.js";
import { createDashboardHandler } from "./dashboard.js";
import { renderFleetExposition } from "./exposition.js";
import type { HttpRequest, HttpResponse } from "./types.js";

export interface FleetHttpOptions {
  fleet: FleetQueryService;
  /** Folder with the built dashboard (dist/web). */
  webRoot: string;
  logger: Logger;
}

/**
 * The HTTP port's non-RPC fleet paths: `/metrics/fleet` and the dashboard
 * (the API token is checked before, by the HTTP token gate, http/token-gate.ts).
 * Returns false when the path is not one of them, so the caller answers 404.
 */
export function createFleetHttpHandler(opts: FleetHttpOptions) {
  const dashboard = createDashboardHandler(opts.webRoot);
  const fail = (res: HttpResponse, err: unknown, what: string) => {
    opts.logger.error({ err }, what);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end("internal error\n");
  };
  return (req: HttpRequest, res: HttpResponse): boolean => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics/fleet") {
      opts.fleet
        .exposition()
        .then(({ nodes, latest }) => {
          res.writeHead(200, {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "cache-control": "no-store",
          });
          res.end(renderFleetExposition(nodes, latest));
        })
        .catch((err: unknown) => fail(res, err, "/metrics/fleet failed"));
      return true;
    }
    if (
      path === "/" ||
      path?.startsWith("/assets/") ||
      path === "/index.html" ||
      path === "/favicon.svg"
    ) {
      dashboard(req, res)
        .then((served) => {
          if (!served) {
            res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
            res.end("not found\n");
          }
        })
        .catch((err: unknown) => fail(res, err, "dashboard file failed"));
      return true;
    }
    return false;
  };
}
