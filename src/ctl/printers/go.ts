/**
 * Go formatting that etcdctl's output depends on: strconv.Quote (`%q`), encoding/json of the
 * gogo-protobuf structs (proto field names, omitempty, base64 bytes, 64-bit integers exact),
 * go-humanize's Bytes, and `%016x`-style hex.
 */
import type { DescField, DescMessage, DescOneof, Message } from "@bufbuild/protobuf";

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Decodes UTF-8 like Go's range over a string: invalid bytes come out as numbers. */
function* runes(bytes: Uint8Array): Generator<string | number> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const size = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (size === 0 || i + size > bytes.length) {
      yield b;
      i += 1;
      continue;
    }
    try {
      yield decoder.decode(bytes.subarray(i, i + size));
      i += size;
    } catch {
      yield b;
      i += 1;
    }
  }
}

/** Go's strconv.Quote of a byte string. */
export function goQuote(value: Uint8Array | string): string {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  let out = '"';
  for (const r of runes(bytes)) {
    if (typeof r === "number") {
      out += `\\x${hex2(r)}`;
      continue;
    }
    const cp = r.codePointAt(0)!;
    if (r === '"' || r === "\\") out += `\\${r}`;
    else if (printable.test(r)) out += r;
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x80) out += `\\x${hex2(cp)}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/** Go's encoding/json string encoding (HTML-safe, invalid UTF-8 replaced by U+FFFD). */
export function goJsonString(value: Uint8Array | string): string {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  let out = '"';
  for (const r of runes(bytes)) {
    if (typeof r === "number") {
      out += "\ufffd";
      continue;
    }
    const cp = r.codePointAt(0)!;
    if (r === '"' || r === "\\") out += `\\${r}`;
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp < 0x20 || r === "<" || r === ">" || r === "&" || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, "0")}`;
    } else out += r;
  }
  return `${out}"`;
}

/** go-humanize's Bytes (SI units). */
export function humanizeBytes(size: bigint | number): string {
  const s = Number(size);
  if (s < 10) return `${s} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const value = Math.floor((s / 1000 ** e) * 10 + 0.5) / 10;
  return value < 10 ? `${value.toFixed(1)} ${sizes[e]}` : `${value.toFixed(0)} ${sizes[e]}`;
}

/** `%x` of an unsigned 64-bit value (negative int64 read as two's complement). */
export function hex(value: bigint): string {
  return BigInt.asUintN(64, value).toString(16);
}

/** `%016x` of a lease or member id. */
export function hex16(value: bigint): string {
  return hex(value).padStart(16, "0");
}

/** `%16x`: hex right-aligned in 16 columns with spaces. */
export function hexSpace16(value: bigint): string {
  return hex(value).padStart(16, " ");
}

/** protoc-gen-go's CamelCase of a proto name (`response_put` → `ResponsePut`). */
export function goCamel(name: string): string {
  return name
    .split("_")
    .map((part, i) => (part === "" ? (i === 0 ? "X" : "_") : part[0]!.toUpperCase() + part.slice(1)))
    .join("");
}

function isZero(field: DescField, value: unknown): boolean {
  if (field.fieldKind === "list") return (value as unknown[]).length === 0;
  if (field.fieldKind === "map") return Object.keys(value as object).length === 0;
  if (field.fieldKind === "message") return value === undefined;
  if (value instanceof Uint8Array) return value.length === 0;
  return value === 0 || value === 0n || value === false || value === "" || value === undefined;
}

function scalarJson(value: unknown): string {
  if (value instanceof Uint8Array) return `"${Buffer.from(value).toString("base64")}"`;
  if (typeof value === "string") return goJsonString(value);
  return String(value);
}

function fieldValueJson(field: DescField, value: unknown): string {
  if (field.fieldKind === "list") {
    const items = value as unknown[];
    if (field.listKind === "message") return `[${items.map((m) => goJson(field.message, m as Message)).join(",")}]`;
    return `[${items.map(scalarJson).join(",")}]`;
  }
  if (field.fieldKind === "message") return goJson(field.message, value as Message);
  return scalarJson(value);
}

/**
 * Go's encoding/json of a gogo-generated message: fields in declaration order under their proto
 * names, zero values omitted, oneofs as {"OneofName":{"FieldName":value}}.
 */
export function goJson(schema: DescMessage, message: Message): string {
  const parts: string[] = [];
  const record = message as unknown as Record<string, unknown>;
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const oneof = member as DescOneof;
      const selected = record[oneof.localName] as { case: string | undefined; value?: unknown };
      // A nil oneof interface has no omitempty in Go, so it encodes as null.
      if (selected.case === undefined) {
        parts.push(`"${goCamel(oneof.name)}":null`);
        continue;
      }
      const field = oneof.fields.find((f) => f.localName === selected.case)!;
      parts.push(`"${goCamel(oneof.name)}":{"${goCamel(field.name)}":${fieldValueJson(field, selected.value)}}`);
      continue;
    }
    const value = record[member.localName];
    if (isZero(member, value)) continue;
    parts.push(`${JSON.stringify(member.name)}:${fieldValueJson(member, value)}`);
  }
  return `{${parts.join(",")}}`;
}
