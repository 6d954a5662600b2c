import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Health } from "../../../gen/grpc/health/v1/health_pb.js";
import { ManagerService } from "../../../gen/manager/manager_pb.js";
import { type Admission, RateLimitedError } from "../services/admission.js";
import { checkingInterceptor } from "./check.js";
import { capStatusMessage } from "./status-message.js";

/** The trailer gRPC clients (and our daemon's retry.ts) read as "retry after this many ms" (gRPC A6). */
export const PUSHBACK_HEADER = "grpc-retry-pushback-ms";

const nodeIdOf = (message: unknown): string | undefined => {
  const id = (message as { nodeId?: unknown } | undefined)?.nodeId;
  return typeof id === "string" ? id : undefined;
};

/** The pushback spread key (only a shed answer needs one); callers without a node id (FleetService) spread at random. */
const shedKey = (message: unknown): string => nodeIdOf(message) ?? String(Math.random());

/**
 * Outermost after observe: sheds unary calls beyond the in-flight cap with
 * UNAVAILABLE before any work is queued, and gives every shed answer
 * (UNAVAILABLE, RESOURCE_EXHAUSTED, whoever raised it) a
 * `grpc-retry-pushback-ms` spread by a hash of the node id. Health checks are
 * never shed, so probes still see the truth under load.
 */
export function createShedInterceptor(admission: Admission): Interceptor {
  return (next) => async (req) => {
    if (req.stream || req.service.typeName === Health.typeName) return next(req);
    if (!admission.tryEnter()) {
      throw new ConnectError(
        `manager overloaded: ${admission.inFlight} calls in flight; retry later`,
        Code.Unavailable,
        { [PUSHBACK_HEADER]: String(admission.pushbackMs(shedKey(req.message))) },
      );
    }
    try {
      return await next(req);
    } catch (err) {
      if (
        err instanceof ConnectError &&
        (err.code === Code.Unavailable || err.code === Code.ResourceExhausted) &&
        !err.metadata.has(PUSHBACK_HEADER)
      ) {
        const wait = err.cause instanceof RateLimitedError ? err.cause.retryAfterMs : 0;
        err.metadata.set(PUSHBACK_HEADER, String(admission.pushbackMs(shedKey(req.message), wait)));
      }
      throw err instanceof ConnectError ? capStatusMessage(err) : err;
    } finally {
      admission.leave();
    }
  };
}

/**
 * After validation (so node ids are well-formed) and authentication (so one
 * client cannot drain another node's bucket): per-node token buckets for
 * heartbeats and for registrations and reports.
 */
export function createRateLimitInterceptor(admission: Admission): Interceptor {
  return checkingInterceptor((req) => {
    if (!req.stream && req.service.typeName === ManagerService.typeName) {
      admission.take(
        req.method === ManagerService.method.heartbeat ? "heartbeat" : "report",
        nodeIdOf(req.message) ?? "",
      );
    }
  });
}
