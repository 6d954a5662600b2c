import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type HealthCheckRequest,
  type HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../../gen/grpc/health/v1/health_pb.js";
import type { ServingState } from "../services/serving-state.js";

/** Services this port answers health checks for ("" is the whole server). */
const SERVICES = new Set(["", "manager.ManagerService", "fleet.v1.FleetService"]);

type Response = MessageInitShape<typeof HealthCheckResponseSchema>;

/** grpc.health.v1.Health: SERVING while started and not shutting down. */
export function createHealthHandlers(state: ServingState) {
  const status = () => (state.serving ? Status.SERVING : Status.NOT_SERVING);
  return {
    async check(req: HealthCheckRequest): Promise<Response> {
      if (!SERVICES.has(req.service)) {
        // The health protocol's own contract: an unknown service is NOT_FOUND.
        throw new ConnectError(`service: unknown service "${req.service}"`, Code.NotFound);
      }
      return { status: status() };
    },
    async *watch(req: HealthCheckRequest, ctx: HandlerContext): AsyncGenerator<Response> {
      if (!SERVICES.has(req.service)) {
        yield { status: Status.SERVICE_UNKNOWN };
        return;
      }
      const aborted = new Promise<void>((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
      );
      while (!ctx.signal.aborted) {
        yield { status: status() };
        // After NOT_SERVING the server is going away: end the stream so shutdown is not held up.
        if (!state.serving) return;
        await Promise.race([state.nextChange(), aborted]);
      }
    },
  };
}
