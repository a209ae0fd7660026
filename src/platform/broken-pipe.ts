/**
 * A write to a closed pipe on stdout or stderr (`cairnctl get / --prefix | head -1`) ends the
 * process the way it ends a Go program such as etcdctl: killed by SIGPIPE, silently (status 141 in
 * a shell), instead of Node's unhandled EPIPE error with a stack trace, or a silent exit 0 with the
 * output cut short when the process was about to exit anyway.
 */
export function dieOnBrokenPipe(): void {
  const broken = (stream: NodeJS.WriteStream) => (stream.errored as NodeJS.ErrnoException | null)?.code === "EPIPE";
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      killedByPipe();
    });
  }
  // A failed synchronous write marks the stream errored at once, but reports it on a later tick,
  // which never comes when process.exit() follows.
  process.on("exit", () => {
    if (broken(process.stdout) || broken(process.stderr)) killedByPipe();
  });
}

/**
 * Waits until everything written to stdout and stderr has reached the pipe or file: a blocking
 * pipe write that failed reports EPIPE only on a later tick, so call this before process.exit().
 */
export async function flushStdio(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 || stream.destroyed) continue;
    await new Promise<void>((resolve) => stream.write("", () => resolve()));
  }
}

function killedByPipe(): never {
  // Node ignores SIGPIPE; adding and removing a listener gives it back its default action.
  const ignore = () => undefined;
  process.on("SIGPIPE", ignore);
  process.off("SIGPIPE", ignore);
  process.kill(process.pid, "SIGPIPE");
  process.exit(141);
}
