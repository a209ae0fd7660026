/**
 * Where cairnctl writes. On Linux, writes to pipes and files are synchronous in Node, so output is
 * complete even when the process exits right after.
 */
export function out(text: string | Uint8Array): void {
  process.stdout.write(text);
}

export function err(text: string): void {
  process.stderr.write(text);
}
