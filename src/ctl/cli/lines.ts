/**
 * Reads standard input line by line like Go's bufio.Reader.ReadString('\n'): a final line without
 * a newline counts as end of input (io.EOF), which etcdctl reports as an error.
 */
export class LineReader {
  private buffer = "";
  private ended = false;
  private readonly waiting: Array<() => void> = [];

  constructor(input: NodeJS.ReadableStream) {
    input.setEncoding?.("latin1");
    input.on("data", (chunk: string | Buffer) => {
      this.buffer += typeof chunk === "string" ? chunk : chunk.toString("latin1");
      this.wake();
    });
    input.on("end", () => {
      this.ended = true;
      this.wake();
    });
    input.on("error", () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  /** The next line without its newline (as latin1 text: one char per byte), or undefined at EOF. */
  async readLine(): Promise<string | undefined> {
    for (;;) {
      const newline = this.buffer.indexOf("\n");
      if (newline !== -1) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        return line;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
}

/** Converts latin1 text (bytes) back to a UTF-8 decoded string. */
export function bytesToText(latin1: string): string {
  return Buffer.from(latin1, "latin1").toString("utf8");
}
