/**
 * Reading passwords the way etcdctl 3.4 does: bgentry/speakeasy for prompts (`user add`,
 * `user passwd`, `--user name` without a password) and fmt.Scanf("%s") for `--interactive=false`.
 *
 * Both take standard input a byte at a time, so two prompts in a row (e.g. `user add alice --user
 * root`) each take their own line, exactly as in Go. speakeasy turns echo off by running `/bin/stty -echo` on the inherited standard
 * streams and back on with `/bin/stty echo`, ignoring stty's exit status; cairnctl does the same, so
 * on a terminal input is hidden with the line editing of canonical mode, and when standard input is
 * not a terminal stty's own complaint reaches stderr just as it does under etcdctl.
 */
import { spawnSync } from "node:child_process";
import { fstatSync } from "node:fs";
import { out } from "./output.js";

/** speakeasy runs this program with argv[0] "stty". */
const sttyPath = "/bin/stty";

/** Go's syscall error strings for the errors reading standard input can plausibly give. */
const goErrnoText: Record<string, string> = {
  EISDIR: "is a directory",
  EIO: "input/output error",
  EBADF: "bad file descriptor",
  EINVAL: "invalid argument",
};

/** Go's text for a failed read of standard input. */
function readError(error: NodeJS.ErrnoException): Error {
  return new Error(`read /dev/stdin: ${goErrnoText[error.code ?? ""] ?? error.message}`);
}

/** Resolves once process.stdin has data, has ended, or has failed. */
function stdinReady(stdin: NodeJS.ReadStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: NodeJS.ErrnoException) => {
      stdin.off("readable", onReadable);
      stdin.off("end", onReadable);
      stdin.off("error", settle);
      if (error === undefined) resolve();
      else reject(readError(error));
    };
    const onReadable = () => settle();
    stdin.on("readable", onReadable);
    stdin.on("end", onReadable);
    stdin.on("error", settle);
  });
}

/** Whether fd 0 is a directory, looked up on the first read. */
let stdinIsDirectory: boolean | undefined;

/**
 * One byte of standard input, or undefined at end of input (io.EOF). Go reads the file descriptor
 * one byte at a time; cairnctl takes one byte at a time from process.stdin (which reads a line per
 * read on a terminal, a chunk on a pipe), leaving the rest in the stream for whoever reads stdin
 * next in this process (txn, or a later prompt). Blocking reads on a worker thread would be
 * byte-exact, but a process cannot exit while such a read waits, and speakeasy must exit at once
 * on Ctrl-C. Bytes read ahead from a pipe are lost to a later process reading the same pipe.
 */
async function readByte(): Promise<number | undefined> {
  // Node gives a directory on stdin an empty stream; Go's read fails.
  stdinIsDirectory ??= fstatSync(0).isDirectory();
  if (stdinIsDirectory) throw readError(Object.assign(new Error("EISDIR"), { code: "EISDIR" }));
  const stdin = process.stdin;
  for (;;) {
    // A string when a reader of stdin set an encoding; cairnctl's readers use latin1 (byte per char).
    const chunk = stdin.read(1) as Buffer | string | null;
    if (chunk !== null) return typeof chunk === "string" ? chunk.charCodeAt(0) & 0xff : chunk[0];
    if (stdin.errored !== null) throw readError(stdin.errored as NodeJS.ErrnoException);
    if (stdin.readableEnded) return undefined;
    await stdinReady(stdin);
  }
}

/** Go's unicode.IsSpace, which strings.TrimSpace and fmt's scanner use. */
function isGoSpace(rune: number): boolean {
  if (rune <= 0xff) return rune === 0x20 || (rune >= 0x09 && rune <= 0x0d) || rune === 0x85 || rune === 0xa0;
  return rune === 0x1680 || (rune >= 0x2000 && rune <= 0x200a) || rune === 0x2028 || rune === 0x2029 || rune === 0x202f || rune === 0x205f || rune === 0x3000;
}

/** Go's strings.TrimSpace. */
function trimGoSpace(text: string): string {
  const runes = [...text];
  let start = 0;
  let end = runes.length;
  while (start < end && isGoSpace(runes[start]!.codePointAt(0)!)) start++;
  while (end > start && isGoSpace(runes[end - 1]!.codePointAt(0)!)) end--;
  return runes.slice(start, end).join("");
}

/** speakeasy's readline: bytes up to a newline or end of input, without a trailing carriage return. */
async function readLine(): Promise<string> {
  const bytes: number[] = [];
  for (;;) {
    const byte = await readByte();
    if (byte === undefined || byte === 0x0a) break;
    bytes.push(byte);
  }
  const line = Buffer.from(bytes).toString("utf8");
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Runs stty on the inherited standard streams; the error is Go's syscall.ForkExec failure. */
function stty(argument: "-echo" | "echo"): Error | undefined {
  const result = spawnSync(sttyPath, [argument], { stdio: "inherit", argv0: "stty" });
  if (result.error === undefined) return undefined;
  const code = (result.error as NodeJS.ErrnoException).code ?? "";
  const texts: Record<string, string> = { ENOENT: "no such file or directory", EACCES: "permission denied" };
  return new Error(`fork/exec ${sttyPath}: ${texts[code] ?? result.error.message}`);
}

/** The termination signals speakeasy catches to turn echo back on before exiting. */
const caughtSignals: readonly NodeJS.Signals[] = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM"];

/** speakeasy's getPassword: echo off, one line, echo on; a signal meanwhile restores echo and exits 255. */
async function readHiddenLine(): Promise<string> {
  const onSignal = () => {
    stty("echo");
    process.exit(255);
  };
  for (const signal of caughtSignals) process.on(signal, onSignal);
  try {
    const failure = stty("-echo");
    if (failure !== undefined) throw new Error(`failed turning off console echo for password entry:\n\t${failure.message}`);
    try {
      return trimGoSpace(await readLine());
    } catch (error) {
      throw new Error(`failed during password entry: ${(error as Error).message}`);
    } finally {
      stty("echo");
    }
  } finally {
    for (const signal of caughtSignals) process.off(signal, onSignal);
  }
}

/**
 * speakeasy.Ask: writes the prompt to stdout, reads one line with echo off, then writes a newline
 * (also when reading failed). Rejects with speakeasy's error text.
 */
export async function askPassword(prompt: string): Promise<string> {
  if (prompt !== "") out(prompt);
  try {
    return await readHiddenLine();
  } finally {
    out("\n");
  }
}

/**
 * Standard input one rune at a time with one rune of push-back, as fmt's scanner reads an
 * io.Reader that is not a RuneScanner. A pushed-back rune is lost when the scan ends, as in Go.
 */
class RuneReader {
  /** The rune UnreadRune gave back; null when none. undefined stands for end of input. */
  private pending: number | undefined | null = null;

  async next(): Promise<number | undefined> {
    if (this.pending !== null) {
      const rune = this.pending;
      this.pending = null;
      return rune;
    }
    const first = await readByte();
    if (first === undefined || first < 0x80) return first;
    const bytes = [first];
    const length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
    while (bytes.length < length) {
      const byte = await readByte();
      if (byte === undefined) break;
      bytes.push(byte);
    }
    return Buffer.from(bytes).toString("utf8").codePointAt(0);
  }

  unread(rune: number | undefined): void {
    this.pending = rune;
  }
}

/** fmt's SkipSpace in Scanf mode: false when it meets a newline ("unexpected newline"). */
async function skipSpace(reader: RuneReader): Promise<boolean> {
  for (;;) {
    const rune = await reader.next();
    if (rune === undefined) return true;
    if (rune === 0x0d) {
      const after = await reader.next();
      reader.unread(after);
      if (after === 0x0a) continue;
    }
    if (rune === 0x0a) return false;
    if (!isGoSpace(rune)) {
      reader.unread(rune);
      return true;
    }
  }
}

/**
 * fmt.Scanf("%s", &word) on standard input, as `--interactive=false` reads a password: skips
 * blanks, then takes the runes up to the next white space. Where Scanf fails (a newline before the
 * word, or no word before end of input) the result is "", since etcdctl ignores the error.
 */
export async function scanWord(): Promise<string> {
  const reader = new RuneReader();
  try {
    if (!(await skipSpace(reader))) return "";
    const first = await reader.next();
    if (first === undefined) return "";
    reader.unread(first);
    if (!(await skipSpace(reader))) return "";
    const runes: number[] = [];
    for (;;) {
      const rune = await reader.next();
      if (rune === undefined || isGoSpace(rune)) break;
      runes.push(rune);
    }
    return String.fromCodePoint(...runes);
  } catch {
    return "";
  }
}
