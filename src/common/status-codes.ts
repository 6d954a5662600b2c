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
export const KIND_TO_GRPC_CODE = Object.freeze({
  invalid_argument: GrpcCode.InvalidArgument,
  not_found: GrpcCode.NotFound,
  permission_denied: GrpcCode.PermissionDenied,
  unauthenticated: GrpcCode.Unauthenticated,
  resource_exhausted: GrpcCode.ResourceExhausted,
  unavailable: GrpcCode.Unavailable,
  deadline_exceeded: GrpcCode.DeadlineExceeded,
  internal: GrpcCode.Internal,
} as const satisfies Record<FleetErrorKind, GrpcCodeNumber>);

type SentCode = (typeof KIND_TO_GRPC_CODE)[FleetErrorKind];

/**
 * Codes the manager never sends, read by clients as the nearest kind. The type
 * makes every code appear exactly once across this and KIND_TO_GRPC_CODE.
 */
const NEAREST_KIND: Readonly<Record<Exclude<GrpcCodeNumber, SentCode>, FleetErrorKind>> = {
  [GrpcCode.Ok]: "internal", // an error with OK status is a bug somewhere
  [GrpcCode.Canceled]: "unavailable",
  [GrpcCode.Unknown]: "internal",
  [GrpcCode.AlreadyExists]: "invalid_argument",
  [GrpcCode.FailedPrecondition]: "unavailable",
  [GrpcCode.Aborted]: "unavailable",
  [GrpcCode.OutOfRange]: "invalid_argument",
  [GrpcCode.Unimplemented]: "internal",
  [GrpcCode.DataLoss]: "internal",
};

/** KIND_TO_GRPC_CODE read in reverse, completed by NEAREST_KIND. */
const KIND_OF_CODE: ReadonlyMap<number, FleetErrorKind> = new Map<number, FleetErrorKind>([
  ...Object.entries(NEAREST_KIND).map(([code, kind]) => [Number(code), kind] as const),
  ...Object.entries(KIND_TO_GRPC_CODE).map(
    ([kind, code]) => [code, kind as FleetErrorKind] as const,
  ),
]);

/** The kind a status code stands for, for clients; a number outside gRPC's codes is `internal`. */
export const kindOfGrpcCode = (code: number): FleetErrorKind =>
  KIND_OF_CODE.get(code) ?? "internal";
