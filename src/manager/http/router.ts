import { join } from "node:path";
import type { Logger } from "../../common/logging.js";
import { packageRoot } from "../../common/package-root.js";
import type { DatabaseHandle } from "../db/client.js";
import { createOpsHttpHandler } from "../ops-http.js";
import type { FleetQueryService } from "../services/fleet-query.js";
import type { ServingState } from "../services/serving-state.js";
import type { Telemetry } from "../telemetry.js";
import { createFleetHttpHandler } from "./fleet-http.js";
import { createHttpTokenGate } from "./token-gate.js";
import type { HttpFallback } from "./types.js";

export interface HttpRouterOptions {
  /** FleetService bearer token; "" = open. Guards /metrics and /metrics/fleet too. */
  apiToken: string;
  /** The database, while the manager runs (for /readyz). */
  handle: () => DatabaseHandle | undefined;
  serving: ServingState;
  telemetry: Telemetry;
  fleet: FleetQueryService;
  logger: Logger;
}

/**
 * The HTTP port's paths that are no RPC, in the order they are tried: the
 * token gate (401 for /metrics* without the API token), then /healthz,
 * /readyz and /metrics, then the dashboard and /metrics/fleet; anything else
 * is 404. Given to the Connect adapter as its fallback.
 */
export function createHttpRouter(opts: HttpRouterOptions): HttpFallback {
  const tokenGate = createHttpTokenGate(opts.apiToken);
  const ops = createOpsHttpHandler({
    handle: opts.handle,
    serving: opts.serving,
    telemetry: opts.telemetry,
    logger: opts.logger,
  });
  const fleetHttp = createFleetHttpHandler({
    fleet: opts.fleet,
    webRoot: join(packageRoot(), "dist", "web"),
    logger: opts.logger,
  });
  return (req, res) => {
    if (tokenGate(req, res) || ops(req, res) || fleetHttp(req, res)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  };
}
