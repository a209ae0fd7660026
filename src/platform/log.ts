/** Log lines on stderr in etcd's capnslog layout: "2006-01-02 15:04:05.000000 I | pkg: message". */

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3, panic: 4, fatal: 5 } as const;
export type LogLevel = keyof typeof LEVELS;
const LETTER: Record<LogLevel, string> = { debug: "D", info: "I", warn: "W", error: "E", panic: "P", fatal: "C" };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function timestamp(date: Date): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}000`;
}

export function formatLogLine(level: LogLevel, pkg: string, message: string, date: Date): string {
  return `${timestamp(date)} ${LETTER[level]} | ${pkg}: ${message}\n`;
}

export function createLogger(pkg: string, minLevel: string, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const min = LEVELS[(minLevel in LEVELS ? minLevel : "info") as LogLevel];
  const at = (level: LogLevel) => (message: string) => {
    if (LEVELS[level] >= min) write(formatLogLine(level, pkg, message, new Date()));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
