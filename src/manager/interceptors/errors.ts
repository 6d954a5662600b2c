import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
} from "@connectrpc/connect";
import { FleetError, type FleetErrorKind } from "../../common/errors.js";
import type { Logger } from "../../common/logging.js";
import { KIND_TO_GRPC_CODE } from "../../common/status-codes.js";
import { storeUnavailableCode } from "../db/store-errors.js";

/**
 * The domain taxonomy → Connect codes (DESIGN §1.2). The table itself lives in
 * common/status-codes.ts as plain numbers, so the daemon can read it in
 * reverse; Connect's `Code` enum has the same values.
 */
export const KIND_TO_CODE: Readonly<Record<FleetErrorKind, Code>> = KIND_TO_GRPC_CODE as Readonly<
  Record<FleetErrorKind, Code>
>;

/**
 * FleetError → ConnectError with the same message; a database that cannot be
 * reached → Unavailable; anything else → Internal. Errors are logged once.
 */
export function toConnectError(err: unknown, logger: Logger, procedure: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof FleetError) {
    if (err.kind === "internal" || err.kind === "unavailable") {
      logger.error({ err, procedure }, err.message);
    }
    return new ConnectError(err.message, KIND_TO_CODE[err.kind], undefined, undefined, err);
  }
  const storeCode = storeUnavailableCode(err);
  if (storeCode) {
    logger.error({ err, procedure }, "database unavailable");
    return new ConnectError(
      `database unavailable (${storeCode}); retry later`,
      Code.Unavailable,
      undefined,
      undefined,
      err,
    );
  }
  logger.error({ err, procedure }, "unhandled error");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/**
 * Maps errors thrown by handlers, for unary and streaming responses alike.
 * `onError` sees each mapped unary failure (the NOT_FOUND → GOAWAY rule).
 */
export function createErrorInterceptor(
  logger: Logger,
  onError?: (req: UnaryRequest | StreamRequest, err: ConnectError) => void,
): Interceptor {
  return (next) => async (req) => {
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      const mapped = toConnectError(err, logger, req.url);
      onError?.(req, mapped);
      throw mapped;
    }
    return res.stream ? { ...res, message: mapStreamErrors(res.message, logger, req.url) } : res;
  };
}

async function* mapStreamErrors<T>(inner: AsyncIterable<T>, logger: Logger, procedure: string) {
  try {
    yield* inner;
  } catch (err) {
    throw toConnectError(err, logger, procedure);
  }
}
