/**
 * What every cairnutl command shares: where output goes, etcdctl's exit codes, and etcdctl's way of
 * reporting an error (`Error: <message>` on stderr).
 */

/** Output streams of a command, injectable so tests can run commands in-process. */
export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** etcdctl's exit codes (etcdctl/ctlv3/command/error.go). */
export const ExitCode = {
  success: 0,
  error: 1,
  badConnection: 2,
  invalidInput: 3,
  badFeature: 4,
  interrupted: 5,
  io: 6,
  badArgs: 128,
} as const;

/** Prints an error as etcdctl does and returns the exit code to use. */
export function exitWithError(io: CommandIO, code: number, message: string): number {
  io.stderr(`Error: ${message}\n`);
  return code;
}
