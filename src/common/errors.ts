/**
 * One error taxonomy for the whole product. Services and queries throw
 * FleetError; each edge maps `kind` to a wire status exactly once
 * (manager: interceptors/errors.ts, daemon: transport/errors.ts).
 */
export type FleetErrorKind =
  | "invalid_argument"
  | "not_found"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "unavailable"
  | "deadline_exceeded"
  | "internal";

export class FleetError extends Error {
  override name = "FleetError";
  readonly field: string | undefined;
  constructor(
    readonly kind: FleetErrorKind,
    message: string,
    opts: { cause?: unknown; field?: string } = {},
  ) {
    super(message, { cause: opts.cause });
    this.field = opts.field;
  }
}

/** A node the manager does not know (daemon reaction: register again). */
export class NodeNotFoundError extends FleetError {
  override name = "NodeNotFoundError";
  constructor(nodeId: string) {
    super("not_found", `node_id: node "${nodeId}" is not registered`, { field: "node_id" });
  }
}

/** Bad input; the message names the field, the problem and the limit. */
export class InvalidArgumentError extends FleetError {
  override name = "InvalidArgumentError";
  constructor(field: string, message: string) {
    super("invalid_argument", `${field}: ${message}`, { field });
  }
}

/** The database cannot be reached or failed to commit. */
export class StoreUnavailableError extends FleetError {
  override name = "StoreUnavailableError";
  constructor(message: string, cause?: unknown) {
    super("unavailable", message, { cause });
  }
}

/** Configuration problems, all of them at once (`key (source): problem, got X`). */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** The client's identity does not match the node_id it speaks for. */
export class PermissionDeniedError extends FleetError {
  override name = "PermissionDeniedError";
  constructor(message: string, field?: string) {
    super("permission_denied", message, field === undefined ? {} : { field });
  }
}

/** Missing or invalid credentials. */
export class UnauthenticatedError extends FleetError {
  override name = "UnauthenticatedError";
  constructor(message: string) {
    super("unauthenticated", message);
  }
}

/** A per-node rate or size limit was exceeded; the client should back off and retry. */
export class ResourceExhaustedError extends FleetError {
  override name = "ResourceExhaustedError";
  constructor(message: string, field?: string) {
    super("resource_exhausted", message, field === undefined ? {} : { field });
  }
}

/** The manager is overloaded or shutting down; the client should back off and retry. */
export class OverloadedError extends FleetError {
  override name = "OverloadedError";
  constructor(message: string, cause?: unknown) {
    super("unavailable", message, { cause });
  }
}
