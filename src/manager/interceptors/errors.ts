import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { FleetError, type FleetErrorKind } from "../../common/errors.js";
import type { Logger } from "../../common/logging.js";

/** The one table from the domain taxonomy to gRPC status codes (DESIGN §1.2). */
export const KIND_TO_CODE: Readonly<Record<FleetErrorKind, Code>> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  internal: Code.Internal,
};

/** FleetError → ConnectError with the same message; anything else → Internal, logged once. */
export function toConnectError(err: unknown, logger: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof FleetError) {
    if (err.kind === "internal" || err.kind === "unavailable") {
      logger.error({ err, procedure }, err.message);
    }
    return new ConnectError(err.message, KIND_TO_CODE[err.kind], undefined, undefined, err);
  }
  logger.error({ err, procedure }, "unhandled error");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/** Maps errors thrown by handlers, for unary and streaming responses alike. */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = req.url;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const inner = res.message;
      async function* mapped() {
        try {
          yield* inner;
        } catch (err) {
          throw toConnectError(err, logger, procedure);
        }
      }
      return { ...res, message: mapped() };
    } catch (err) {
      throw toConnectError(err, logger, procedure);
    }
  };
}
