/** Errors of the bbolt reader and of the byte sources under it. */

export type BboltErrorCode =
  | "TOO_SMALL"
  | "INVALID"
  | "VERSION_MISMATCH"
  | "CHECKSUM"
  | "TRUNCATED"
  | "CORRUPT";

/** The file is not a valid bbolt database; `code` says how. */
export class BboltFormatError extends Error {
  constructor(
    readonly code: BboltErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BboltFormatError";
  }
}
