import { sql } from "drizzle-orm";
import type { Logger } from "../common/logging.js";
import type { DatabaseHandle } from "./db/client.js";
import { pendingMigrations } from "./db/migrate.js";
import type { HttpRequest, HttpResponse } from "./http/types.js";
import type { ServingState } from "./services/serving-state.js";
import type { Telemetry } from "./telemetry.js";

/**
 * The HTTP port's operations paths: `/healthz` (the process is up), `/readyz`
 * (serving, database reachable and every migration applied) and `/metrics`
 * (the manager's own Prometheus metrics). Returns false for any other path.
 */
export function createOpsHttpHandler(deps: {
  handle: () => DatabaseHandle | undefined;
  serving: ServingState;
  telemetry: Telemetry;
  logger: Logger;
}) {
  const reply = (
    res: HttpResponse,
    status: number,
    body: string,
    type = "text/plain; charset=utf-8",
  ) => {
    res.writeHead(status, { "content-type": type });
    res.end(body);
  };

  const readiness = async (): Promise<string | undefined> => {
    const handle = deps.handle();
    if (!deps.serving.serving || !handle) return "not serving (starting or shutting down)";
    try {
      await handle.db.execute(sql`select 1`);
    } catch (err) {
      deps.logger.warn({ err }, "readiness: database unreachable");
      return "database unreachable";
    }
    try {
      const pending = await pendingMigrations(handle);
      if (pending > 0) return `${pending} database migrations not applied`;
    } catch (err) {
      deps.logger.warn({ err }, "readiness: cannot read applied migrations");
      return "migrations not applied";
    }
    return undefined;
  };

  return (req: HttpRequest, res: HttpResponse): boolean => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      reply(res, 200, "ok\n");
    } else if (path === "/readyz") {
      void readiness().then((problem) =>
        problem ? reply(res, 503, `${problem}\n`) : reply(res, 200, "ready\n"),
      );
    } else if (path === "/metrics") {
      deps.telemetry.registry.metrics().then(
        (text) => reply(res, 200, text, deps.telemetry.registry.contentType),
        (err: unknown) => {
          deps.logger.error({ err }, "rendering /metrics failed");
          reply(res, 500, "internal error\n");
        },
      );
    } else {
      return false;
    }
    return true;
  };
}
