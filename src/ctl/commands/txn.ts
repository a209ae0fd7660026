/**
 * `txn [options]`: reads compares, success and failure requests from stdin, each block ended by an
 * empty line, and commits them in one transaction (etcdctl's txn_command.go).
 */
import { create } from "@bufbuild/protobuf";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  RequestOpSchema,
  TxnRequestSchema,
  type Compare,
  type RequestOp,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import { cobraDefaultUsage, Command, type CommandSpec } from "../cli/command.js";
import { FlagError } from "../cli/flags.js";
import { bytesToText, LineReader } from "../cli/lines.js";
import { CtlExit, ExitCode } from "../exit.js";
import { err, out } from "../output.js";
import { goQuote } from "../printers/go.js";
import { call, flag, openSession } from "./common.js";
import { delCommand, deleteRequest } from "./del.js";
import { getCommand, rangeRequest } from "./get.js";
import { putCommand, putRequest } from "./put.js";

function invalidInput(message: string): never {
  throw new CtlExit(ExitCode.invalidInput, message);
}

/** Go's strconv.Unquote for a double- or back-quoted token. */
function goUnquote(token: string): string | undefined {
  if (token.startsWith("`")) return token.endsWith("`") && token.length >= 2 ? token.slice(1, -1) : undefined;
  if (!token.startsWith('"') || !token.endsWith('"') || token.length < 2) return undefined;
  const body = token.slice(1, -1);
  let result = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      if (c === '"') return undefined;
      result += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" };
    if (e !== undefined && simple[e] !== undefined) result += simple[e];
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      result += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if ((e === "u" || e === "U") && /^[0-9a-fA-F]+$/.test(body.slice(i + 1, i + (e === "u" ? 5 : 9)))) {
      const n = e === "u" ? 4 : 8;
      result += Buffer.from(String.fromCodePoint(parseInt(body.slice(i + 1, i + 1 + n), 16)), "utf8").toString("latin1");
      i += n;
    } else return undefined;
  }
  return result;
}

/** Reads one %q token from the start of text (after spaces); returns it and the rest. */
function scanQuoted(text: string): { value: string; rest: string } | undefined {
  const trimmed = text.replace(/^[ \t]+/, "");
  const match = /^"(?:[^"\\]|\\.)*"|^`[^`]*`/.exec(trimmed);
  if (match === null) return undefined;
  const value = goUnquote(match[0]);
  return value === undefined ? undefined : { value, rest: trimmed.slice(match[0].length) };
}

const resultByOp: Record<string, Compare_CompareResult> = {
  "=": Compare_CompareResult.EQUAL,
  "!=": Compare_CompareResult.NOT_EQUAL,
  ">": Compare_CompareResult.GREATER,
  "<": Compare_CompareResult.LESS,
};

/** Parses `target("key") op "value"` (etcdctl's parseCompare). Text is latin1 bytes. */
function parseCompare(line: string): Compare {
  const paren = line.indexOf("(");
  if (paren === -1) invalidInput(`malformed comparison: ${bytesToText(line)}`);
  const target = line.slice(0, paren);
  let key = "";
  let op = "";
  let value = "";
  let scanned = 0;
  const first = scanQuoted(line.slice(paren + 1));
  if (first !== undefined) {
    key = first.value;
    scanned = 1;
    if (first.rest.startsWith(")")) {
      const opMatch = /^[ \t]*(\S+)/.exec(first.rest.slice(1));
      if (opMatch !== null) {
        op = opMatch[1]!;
        scanned = 2;
        const third = scanQuoted(first.rest.slice(1 + opMatch[0].length));
        if (third !== undefined) {
          value = third.value;
          scanned = 3;
        }
      }
    }
  }
  const q = (s: string) => goQuote(Buffer.from(s, "latin1"));
  if (scanned !== 3) invalidInput(`malformed comparison: ${bytesToText(line)}; got ${bytesToText(target)}(${q(key)}) ${bytesToText(op)} ${q(value)}`);
  const result = resultByOp[op];
  if (result === undefined) invalidInput(`malformed comparison: ${bytesToText(line)} (unknown op ${bytesToText(op)})`);
  const keyBytes = Buffer.from(key, "latin1");
  const integer = (kind: "version" | "createRevision" | "modRevision") => {
    if (!/^[+-]?\d+$/.test(value)) invalidInput(`invalid txn compare request: ${bytesToText(line)}`);
    return { case: kind, value: BigInt(value) } as const;
  };
  switch (target) {
    case "ver":
    case "version":
      return create(CompareSchema, { result, target: Compare_CompareTarget.VERSION, key: keyBytes, targetUnion: integer("version") });
    case "c":
    case "create":
      return create(CompareSchema, { result, target: Compare_CompareTarget.CREATE, key: keyBytes, targetUnion: integer("createRevision") });
    case "m":
    case "mod":
      return create(CompareSchema, { result, target: Compare_CompareTarget.MOD, key: keyBytes, targetUnion: integer("modRevision") });
    case "val":
    case "value":
      return create(CompareSchema, {
        result,
        target: Compare_CompareTarget.VALUE,
        key: keyBytes,
        targetUnion: { case: "value", value: Buffer.from(value, "latin1") },
      });
    default:
      return invalidInput(`malformed comparison: ${bytesToText(line)} (unknown target ${bytesToText(target)})`);
  }
}

/** etcdctl's argify: splits a line into words, honouring single and double quotes. */
export function argify(line: string): string[] {
  const words = line.match(/"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g) ?? [];
  return words.map((word) => {
    if (word.startsWith("'")) return word.slice(1, words.length - 1);
    if (word.startsWith('"')) {
      const value = goUnquote(word);
      if (value === undefined) invalidInput(`unexpected quoted string: ${word}`);
      return value;
    }
    return word;
  });
}

const opCommands = new Command({ use: "", short: "", subcommands: [putCommand, getCommand, delCommand] }, undefined, []);

/** Parses `put|get|del ...` (etcdctl's parseRequestUnion). Text is latin1 bytes. */
async function parseRequestOp(line: string): Promise<RequestOp> {
  const args = argify(line).map(bytesToText);
  if (args.length < 2) invalidInput(`invalid txn compare request: ${bytesToText(line)}`);
  const command = opCommands.findChild(args[0]!);
  if (command === undefined) invalidInput(`invalid txn request: ${bytesToText(line)}`);
  const flags = command.flagSet();
  let positional: string[];
  try {
    positional = flags.parse(args.slice(1));
  } catch (error) {
    if (error instanceof FlagError) {
      // cobra prints the request command's usage (and a blank line) before the error is returned.
      err(`${cobraDefaultUsage(command)}\n`);
      invalidInput(`invalid txn request: ${bytesToText(line)}`);
    }
    throw error;
  }
  switch (command.name) {
    case "put":
      return create(RequestOpSchema, { request: { case: "requestPut", value: await putRequest({ args: positional, flags }) } });
    case "get":
      return create(RequestOpSchema, { request: { case: "requestRange", value: rangeRequest({ args: positional, flags }) } });
    default:
      return create(RequestOpSchema, { request: { case: "requestDeleteRange", value: deleteRequest({ args: positional, flags }) } });
  }
}

async function readBlock<T>(reader: LineReader, parse: (line: string) => T | Promise<T>): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const raw = await reader.readLine();
    if (raw === undefined) invalidInput("EOF");
    const line = raw.trim();
    if (line.length === 0) return items;
    items.push(await parse(line));
  }
}

export const txnCommand: CommandSpec = {
  use: "txn [options]",
  short: "Txn processes all the requests in one transaction",
  flags: [flag("interactive", "bool", "false", "Input transaction in interactive mode", "i")],
  async run(invocation) {
    if (invocation.args.length !== 0) throw new CtlExit(ExitCode.badArgs, "txn command does not accept argument");
    const interactive = invocation.flags.bool("interactive");
    const prompt = (text: string) => {
      if (interactive) out(`${text}\n`);
    };
    // As etcdctl, stdin is read only after connecting, so a --user password prompt takes its line first.
    const session = await openSession(invocation);
    const reader = new LineReader(process.stdin);
    prompt("compares:");
    const compare = await readBlock(reader, parseCompare);
    prompt("success requests (get, put, del):");
    const success = await readBlock(reader, parseRequestOp);
    prompt("failure requests (get, put, del):");
    const failure = await readBlock(reader, parseRequestOp);
    const response = await call(session, kvService.txn, create(TxnRequestSchema, { compare, success, failure }), { timeoutMs: 0 });
    session.printer.txn(response);
  },
};

