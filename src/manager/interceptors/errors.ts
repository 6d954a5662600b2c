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

/**
 * The domain taxonomy → Connect codes (DESIGN §1.2). The table itself lives in
 * common/status-codes.ts as plain numbers, so the daemon can read it in
 * reverse; Connect's `Code` enum has the same values.
 */
export const KIND_TO_CODE: Readonly<Record<FleetErrorKind, Code>> = KIND_TO_GRPC_CODE as Readonly<
  Record<FleetErrorKind, Code>
>;

/**
 * Tells a failure from a lower layer (the store) as a domain error, or
 * undefined when it is not one it knows. Given by the composition root, so
 * this edge depends on the domain taxonomy only.
 */
export type DomainErrorOf = (err: unknown) => FleetError | undefined;

/**
 * FleetError (or what `domainErrorOf` recognises as one) → ConnectError with
 * the same message and the FleetError as `cause` (the shed interceptor reads
 * it, interceptors/chain.ts); anything else → Internal. Errors are logged once.
 */
export function toConnectError(
  err: unknown,
  logger: Logger,
  procedure: string,
  domainErrorOf?: DomainErrorOf,
): ConnectError {
  if (err instanceof ConnectError) return err;
  const domain = err instanceof FleetError ? err : domainErrorOf?.(err);
  if (domain) {
    if (domain.kind === "internal" || domain.kind === "unavailable") {
      logger.error({ err, procedure }, domain.message);
    }
    return new ConnectError(
      domain.message,
      KIND_TO_CODE[domain.kind],
      undefined,
      undefined,
      domain,
    );
  }
  logger.error({ err, procedure }, "unhandled error");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

export interface ErrorInterceptorOptions {
  /** Sees each mapped unary failure (the NOT_FOUND → GOAWAY rule). */
  onError?: (req: UnaryRequest | StreamRequest, err: ConnectError) => void;
  /** Recognises lower layers' failures as domain errors (the store's: db/store-errors.ts). */
  domainErrorOf?: DomainErrorOf;
}

/** Maps errors thrown by handlers, for unary and streaming responses alike. */
export function createErrorInterceptor(
  logger: Logger,
  opts: ErrorInterceptorOptions = {},
): Interceptor {
  const { onError, domainErrorOf } = opts;
  return (next) => async (req) => {
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      const mapped = toConnectError(err, logger, req.url, domainErrorOf);
      onError?.(req, mapped);
      throw mapped;
    }
    return res.stream
      ? { ...res, message: mapStreamErrors(res.message, logger, req.url, domainErrorOf) }
      : res;
  };
}

async function* mapStreamErrors<T>(
  inner: AsyncIterable<T>,
  logger: Logger,
  procedure: string,
  domainErrorOf: DomainErrorOf | undefined,
) {
  try {
    yield* inner;
  } catch (err) {
    throw toConnectError(err, logger, procedure, domainErrorOf);
  }
}
