/**
 * The one error table shared by Cairn's server and client: every error etcd 3.4 sends over gRPC,
 * with its status code and exact message. The server builds replies from it (`toServiceError`);
 * the client maps replies back by message (`fromServiceError`), as etcd's clientv3 does.
 *
 * This module has no runtime dependency on grpc-js, so storage and MVCC code may use it.
 */

/** gRPC status codes (the numbering is fixed by the gRPC specification). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** Go's names for the codes, as they appear in `rpc error: code = Unavailable desc = ...`. */
export const grpcCodeGoName: Readonly<Record<GrpcCode, string>> = {
  0: "OK",
  1: "Canceled",
  2: "Unknown",
  3: "InvalidArgument",
  4: "DeadlineExceeded",
  5: "NotFound",
  6: "AlreadyExists",
  7: "PermissionDenied",
  8: "ResourceExhausted",
  9: "FailedPrecondition",
  10: "Aborted",
  11: "OutOfRange",
  12: "Unimplemented",
  13: "Internal",
  14: "Unavailable",
  15: "DataLoss",
  16: "Unauthenticated",
};

interface ErrorSpec {
  readonly code: GrpcCode;
  readonly message: string;
}

const C = GrpcCode;

/** etcd 3.4's gRPC errors (etcdserver/api/v3rpc/rpctypes), keyed by a stable Cairn name. */
export const etcdErrors = {
  emptyKey: { code: C.INVALID_ARGUMENT, message: "etcdserver: key is not provided" },
  keyNotFound: { code: C.INVALID_ARGUMENT, message: "etcdserver: key not found" },
  valueProvided: { code: C.INVALID_ARGUMENT, message: "etcdserver: value is provided" },
  leaseProvided: { code: C.INVALID_ARGUMENT, message: "etcdserver: lease is provided" },
  tooManyOps: { code: C.INVALID_ARGUMENT, message: "etcdserver: too many operations in txn request" },
  duplicateKey: { code: C.INVALID_ARGUMENT, message: "etcdserver: duplicate key given in txn request" },
  compacted: { code: C.OUT_OF_RANGE, message: "etcdserver: mvcc: required revision has been compacted" },
  futureRev: { code: C.OUT_OF_RANGE, message: "etcdserver: mvcc: required revision is a future revision" },
  noSpace: { code: C.RESOURCE_EXHAUSTED, message: "etcdserver: mvcc: database space exceeded" },

  leaseNotFound: { code: C.NOT_FOUND, message: "etcdserver: requested lease not found" },
  leaseExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: lease already exists" },
  leaseTTLTooLarge: { code: C.OUT_OF_RANGE, message: "etcdserver: too large lease TTL" },

  watchCanceled: { code: C.CANCELLED, message: "etcdserver: watch canceled" },

  memberExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: member ID already exist" },
  peerURLExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: Peer URLs already exists" },
  memberNotEnoughStarted: {
    code: C.FAILED_PRECONDITION,
    message: "etcdserver: re-configuration failed due to not enough started members",
  },
  memberBadURLs: { code: C.INVALID_ARGUMENT, message: "etcdserver: given member URLs are invalid" },
  memberNotFound: { code: C.NOT_FOUND, message: "etcdserver: member not found" },
  memberNotLearner: { code: C.FAILED_PRECONDITION, message: "etcdserver: can only promote a learner member" },
  learnerNotReady: {
    code: C.FAILED_PRECONDITION,
    message: "etcdserver: can only promote a learner member which is in sync with leader",
  },
  tooManyLearners: { code: C.FAILED_PRECONDITION, message: "etcdserver: too many learner members in cluster" },

  requestTooLarge: { code: C.INVALID_ARGUMENT, message: "etcdserver: request is too large" },
  tooManyRequests: { code: C.RESOURCE_EXHAUSTED, message: "etcdserver: too many requests" },

  rootUserNotExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: root user does not exist" },
  rootRoleNotExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: root user does not have root role" },
  userAlreadyExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: user name already exists" },
  userEmpty: { code: C.INVALID_ARGUMENT, message: "etcdserver: user name is empty" },
  userNotFound: { code: C.FAILED_PRECONDITION, message: "etcdserver: user name not found" },
  roleAlreadyExist: { code: C.FAILED_PRECONDITION, message: "etcdserver: role name already exists" },
  roleNotFound: { code: C.FAILED_PRECONDITION, message: "etcdserver: role name not found" },
  roleEmpty: { code: C.INVALID_ARGUMENT, message: "etcdserver: role name is empty" },
  authFailed: {
    code: C.INVALID_ARGUMENT,
    message: "etcdserver: authentication failed, invalid user ID or password",
  },
  permissionDenied: { code: C.PERMISSION_DENIED, message: "etcdserver: permission denied" },
  roleNotGranted: { code: C.FAILED_PRECONDITION, message: "etcdserver: role is not granted to the user" },
  permissionNotGranted: { code: C.FAILED_PRECONDITION, message: "etcdserver: permission is not granted to the role" },
  authNotEnabled: { code: C.FAILED_PRECONDITION, message: "etcdserver: authentication is not enabled" },
  invalidAuthToken: { code: C.UNAUTHENTICATED, message: "etcdserver: invalid auth token" },
  invalidAuthMgmt: { code: C.INVALID_ARGUMENT, message: "etcdserver: invalid auth management" },
  authOldRevision: { code: C.INVALID_ARGUMENT, message: "etcdserver: revision of auth store is old" },

  noLeader: { code: C.UNAVAILABLE, message: "etcdserver: no leader" },
  notLeader: { code: C.FAILED_PRECONDITION, message: "etcdserver: not leader" },
  leaderChanged: { code: C.UNAVAILABLE, message: "etcdserver: leader changed" },
  notCapable: { code: C.UNAVAILABLE, message: "etcdserver: not capable" },
  stopped: { code: C.UNAVAILABLE, message: "etcdserver: server stopped" },
  timeout: { code: C.UNAVAILABLE, message: "etcdserver: request timed out" },
  timeoutDueToLeaderFail: {
    code: C.UNAVAILABLE,
    message: "etcdserver: request timed out, possibly due to previous leader failure",
  },
  timeoutDueToConnectionLost: {
    code: C.UNAVAILABLE,
    message: "etcdserver: request timed out, possibly due to connection lost",
  },
  timeoutWaitAppliedIndex: {
    code: C.UNAVAILABLE,
    message: "etcdserver: request timed out, waiting for the applied index took too long",
  },
  unhealthy: { code: C.UNAVAILABLE, message: "etcdserver: unhealthy cluster" },
  corrupt: { code: C.DATA_LOSS, message: "etcdserver: corrupt cluster" },
  notSupportedForLearner: { code: C.UNAVAILABLE, message: "etcdserver: rpc not supported for learner" },
  badLeaderTransferee: { code: C.FAILED_PRECONDITION, message: "etcdserver: bad leader transferee" },
} as const satisfies Record<string, ErrorSpec>;

export type EtcdErrorName = keyof typeof etcdErrors;

const nameByMessage: ReadonlyMap<string, EtcdErrorName> = new Map(
  (Object.keys(etcdErrors) as EtcdErrorName[]).map((name) => [etcdErrors[name].message, name]),
);

/**
 * An error with a gRPC status code and etcd's message. `errorName` is the table entry it came from,
 * or undefined for a status that is not in etcd's table (e.g. a transport failure).
 */
export class EtcdError extends Error {
  override readonly name = "EtcdError";

  constructor(
    readonly code: GrpcCode,
    message: string,
    readonly errorName: EtcdErrorName | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when this is the table entry `name`. */
  is(name: EtcdErrorName): boolean {
    return this.errorName === name;
  }
}

/** Builds the table entry `name` as an EtcdError. */
export function etcdError(name: EtcdErrorName): EtcdError {
  const spec: ErrorSpec = etcdErrors[name];
  return new EtcdError(spec.code, spec.message, name);
}

/**
 * The shape grpc-js servers accept as a call error (structurally a grpc-js ServerErrorResponse):
 * pass it to a unary callback or `call.destroy`/`call.emit("error")`.
 */
export interface GrpcStatusError extends Error {
  code: number;
  details: string;
}

/** Server side: turns an EtcdError into the status error grpc-js sends. */
export function toServiceError(error: EtcdError): GrpcStatusError {
  return Object.assign(new Error(error.message), { code: error.code, details: error.message });
}

function isStatusLike(value: unknown): value is { code: number; details?: unknown; message?: unknown } {
  return typeof value === "object" && value !== null && typeof (value as { code?: unknown }).code === "number";
}

/**
 * Client side: maps an error received from grpc-js (a ServiceError with `code` and `details`) back
 * to the table entry with the same message. Statuses etcd's table does not know keep their code and
 * message with `errorName` undefined; anything that is not a status is returned as UNKNOWN.
 */
export function fromServiceError(error: unknown): EtcdError {
  if (error instanceof EtcdError) return error;
  if (!isStatusLike(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new EtcdError(GrpcCode.UNKNOWN, message, undefined, { cause: error });
  }
  const details =
    typeof error.details === "string" ? error.details : typeof error.message === "string" ? error.message : "";
  const name = nameByMessage.get(details);
  const code = (error.code >= 0 && error.code <= 16 ? error.code : GrpcCode.UNKNOWN) as GrpcCode;
  return new EtcdError(code, details, name, { cause: error });
}
