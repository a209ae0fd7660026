/**
 * Decoding a gateway request body the way etcd 3.4's grpc-gateway (Go's encoding/json under
 * gogo's jsonpb) does, so that malformed or mistyped input gets the same error text: only the first
 * JSON value counts, unknown fields are ignored, `null` means "unset", and wrong types produce Go's
 * "json: cannot unmarshal …" messages. The checked value is then handed to protobuf-es.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** A request body that Go would refuse, with Go's message. */
export class GoJsonError extends Error {
  override name = "GoJsonError";
}

/** Returns the JSON object protobuf-es should decode, or throws GoJsonError with Go's message. */
export function goDecode(schema: DescMessage, body: string): Record<string, unknown> {
  const first = firstValue(body);
  if (first === undefined) return {}; // an empty body decodes to an empty request (io.EOF is ignored)
  let value: unknown;
  try {
    value = JSON.parse(first);
  } catch {
    throw new GoJsonError(syntaxError(first));
  }
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type map[string]json.RawMessage`);
  return checkMessage(schema, value as Record<string, unknown>);
}

function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  return typeof value === "boolean" ? "bool" : typeof value;
}

/** The text of the first JSON value in `body` (a streaming decoder ignores what follows). */
function firstValue(body: string): string | undefined {
  const text = body.trimStart();
  if (text.length === 0) return undefined;
  if (text[0] !== "{" && text[0] !== "[") {
    const end = text.search(/[\s{}[\],]/);
    return end <= 0 ? text : text.slice(0, end);
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return text.slice(0, i + 1);
    }
  }
  return text; // unterminated: parsing it reports the truncation
}

function syntaxError(text: string): string {
  const first = text.trimStart()[0];
  if (first !== undefined && !/[{["\-0-9tfn]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
  return "unexpected EOF";
}

function fieldFor(schema: DescMessage, key: string): DescField | undefined {
  return schema.fields.find((f) => f.name === key || f.jsonName === key);
}

function checkMessage(schema: DescMessage, object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    const field = fieldFor(schema, key);
    if (field === undefined || value === null) continue; // jsonpb: unknown fields and nulls are skipped
    out[key] = field.fieldKind === "list" ? checkList(field, value) : checkSingular(field, value);
  }
  return out;
}

function checkList(field: DescField & { fieldKind: "list" }, value: unknown): unknown {
  if (!Array.isArray(value)) throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type []json.RawMessage`);
  return value.map((item) => {
    if (field.listKind === "message") return checkObject(field.message, item);
    if (field.listKind === "enum") return checkEnum(field.enum.typeName, field.enum.values.map((v) => v.name), item);
    return checkScalar(field.scalar, item);
  });
}

function checkSingular(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "message":
      return checkObject(field.message, value);
    case "enum":
      return checkEnum(field.enum.typeName, field.enum.values.map((v) => v.name), value);
    case "scalar":
      return checkScalar(field.scalar, value);
    default:
      return value;
  }
}

function checkObject(schema: DescMessage, value: unknown): unknown {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type map[string]json.RawMessage`);
  return checkMessage(schema, value as Record<string, unknown>);
}

/** gogo names enum types with an underscore: etcdserverpb.RangeRequest_SortOrder. */
function checkEnum(typeName: string, names: string[], value: unknown): unknown {
  if (typeof value === "number") return value;
  if (typeof value === "string" && names.includes(value)) return value;
  const goName = typeName.replace(/\.([A-Za-z0-9]+)\.([A-Za-z0-9]+)$/, ".$1_$2");
  if (typeof value === "string") throw new GoJsonError(`unknown value ${JSON.stringify(value)} for enum ${goName}`);
  throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type ${goName}`);
}

const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const INT32_TYPES = new Set([ScalarType.INT32, ScalarType.UINT32, ScalarType.SINT32, ScalarType.FIXED32, ScalarType.SFIXED32]);

function checkScalar(type: ScalarType, value: unknown): unknown {
  if (type === ScalarType.BYTES) {
    if (typeof value !== "string") throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type []uint8`);
    const bad = firstBadBase64Byte(value);
    if (bad !== undefined) throw new GoJsonError(`illegal base64 data at input byte ${bad}`);
    return value;
  }
  if (INT64_TYPES.has(type) || INT32_TYPES.has(type)) {
    const goType = goIntName(type);
    if (typeof value === "string") {
      // jsonpb unquotes 64-bit integers and parses the inside as a JSON number.
      if (!/^-?(0|[1-9][0-9]*)$/.test(value)) {
        if (/^-?[0-9]/.test(value)) throw new GoJsonError(`json: cannot unmarshal number ${value} into Go value of type ${goType}`);
        throw new GoJsonError(value.length === 0 ? "unexpected end of JSON input" : `invalid character '${value[0]}' looking for beginning of value`);
      }
      return value;
    }
    if (typeof value !== "number") throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type ${goType}`);
    if (!Number.isInteger(value)) throw new GoJsonError(`json: cannot unmarshal number ${value} into Go value of type ${goType}`);
    return value;
  }
  if (type === ScalarType.BOOL && typeof value !== "boolean") throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type bool`);
  if (type === ScalarType.STRING && typeof value !== "string") throw new GoJsonError(`json: cannot unmarshal ${goKind(value)} into Go value of type string`);
  return value;
}

function goIntName(type: ScalarType): string {
  switch (type) {
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return "uint64";
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return "uint32";
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return "int32";
    default:
      return "int64";
  }
}

/** Offset of the first byte Go's base64.StdEncoding rejects, or undefined when `text` decodes. */
function firstBadBase64Byte(text: string): number | undefined {
  const body = text.replace(/=+$/, "");
  for (let i = 0; i < body.length; i++) {
    if (!/[A-Za-z0-9+/]/.test(body[i]!)) return i;
  }
  const padding = text.length - body.length;
  const position = body.length % 4; // where the data ends inside its last 4-byte quantum
  if (padding === 0) return position === 0 ? undefined : body.length - position;
  // Padding may only start at the third or fourth byte of a quantum, and must complete it.
  if (position < 2) return body.length;
  if (padding !== 4 - position) return Math.min(text.length, body.length + (4 - position));
  return undefined;
}
