import type { FleetErrorKind } from "./errors.js";

/**
 * gRPC status codes as numbers (grpc/doc/statuscodes.md). common/ must not
 * import @connectrpc, whose `Code` enum has these same values.
 */
export const GrpcCode = {
  Ok: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

/** The one table from the domain taxonomy to gRPC status codes (DESIGN §1.2). */
export const KIND_TO_GRPC_CODE: Readonly<Record<FleetErrorKind, GrpcCodeNumber>> = {
  invalid_argument: GrpcCode.InvalidArgument,
  not_found: GrpcCode.NotFound,
  permission_denied: GrpcCode.PermissionDenied,
  unauthenticated: GrpcCode.Unauthenticated,
  resource_exhausted: GrpcCode.ResourceExhausted,
  unavailable: GrpcCode.Unavailable,
  deadline_exceeded: GrpcCode.DeadlineExceeded,
  internal: GrpcCode.Internal,
};

/**
 * The same table read in reverse, for clients: the kind a status code stands
 * for. Codes the manager never sends map to the nearest kind.
 */
export function kindOfGrpcCode(code: number): FleetErrorKind {
  for (const [kind, c] of Object.entries(KIND_TO_GRPC_CODE)) {
    if (c === code) return kind as FleetErrorKind;
  }
  switch (code) {
    case GrpcCode.Canceled:
    case GrpcCode.Aborted:
    case GrpcCode.FailedPrecondition:
      return "unavailable";
    case GrpcCode.AlreadyExists:
    case GrpcCode.OutOfRange:
      return "invalid_argument";
    default:
      return "internal";
  }
}
