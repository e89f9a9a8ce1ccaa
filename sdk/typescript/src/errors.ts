// Typed errors: the gRPC code and the google.rpc details owl sends in grpc-status-details-bin
// (ErrorInfo's reason, BadRequest's field violations, RetryInfo, ResourceInfo).

import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** One invalid field of a request, as the server reported it. */
export interface FieldViolation {
  /** The field's path, for example `user.external_user_id`. */
  field: string;
  /** Why the value is invalid. */
  description: string;
}

/** The resource an error is about (NOT_FOUND, ALREADY_EXISTS). */
export interface ResourceInfo {
  /** The resource's type, for example `user`. */
  type: string;
  /** The resource's name, for example `users/0193…`. */
  name: string;
}

/**
 * An error from owl: the gRPC code, the stable `reason` (ErrorInfo, UPPER_SNAKE, for example
 * `INVALID_ARGUMENT`, `NOT_FOUND`, `ONBOARDING_CLOSED`) and every field violation. Match
 * `code` and `reason`, never the message.
 */
export class OwlError extends ConnectError {
  /** ErrorInfo.reason, or undefined when the server sent no ErrorInfo (a transport error). */
  readonly reason: string | undefined;
  /** ErrorInfo.domain: `owl.v1` for owl's own errors. */
  readonly domain: string | undefined;
  /** BadRequest's field violations: every invalid field at once. */
  readonly fieldViolations: FieldViolation[];
  /** PreconditionFailure's violation types (for example `CONNECTION_NOT_ACTIVE`). */
  readonly preconditionViolations: string[];
  /** ResourceInfo, when the error names a resource. */
  readonly resource: ResourceInfo | undefined;
  /** RetryInfo's delay in milliseconds (UNAVAILABLE, RESOURCE_EXHAUSTED). */
  readonly retryDelayMs: number | undefined;

  constructor(cause: ConnectError) {
    super(cause.rawMessage, cause.code, cause.metadata, undefined, cause);
    // ConnectError's constructor resets the prototype to its own; restore the subclass.
    Object.setPrototypeOf(this, OwlError.prototype);
    this.name = "OwlError";
    this.details = cause.details;
    const info = cause.findDetails(ErrorInfoSchema)[0];
    this.reason = info?.reason || undefined;
    this.domain = info?.domain || undefined;
    this.fieldViolations = cause
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations)
      .map((v) => ({ field: v.field, description: v.description }));
    this.preconditionViolations = cause
      .findDetails(PreconditionFailureSchema)
      .flatMap((p) => p.violations)
      .map((v) => v.type);
    const resource = cause.findDetails(ResourceInfoSchema)[0];
    this.resource = resource
      ? { type: resource.resourceType, name: resource.resourceName }
      : undefined;
    const retry = cause.findDetails(RetryInfoSchema)[0]?.retryDelay;
    this.retryDelayMs = retry
      ? Number(retry.seconds) * 1000 + Math.floor(retry.nanos / 1_000_000)
      : undefined;
  }

  /** `instanceof OwlError`, also across copies of this module (the inherited check of
   * ConnectError would accept any ConnectError). */
  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof Error && value.name === "OwlError" && "fieldViolations" in value;
  }

  /** Converts anything thrown by a call into an OwlError (idempotent). */
  static fromError(error: unknown): OwlError {
    if (error instanceof OwlError) {
      return error;
    }
    return new OwlError(ConnectError.from(error, Code.Unknown));
  }
}
