/**
 * protoc-gen-lean: generates cmdop's lean codecs (src/protocol/lean/) from proto/, the encoders
 * and decoders the exec path uses instead of loading protobuf-es. `make gen` runs it through buf
 * beside protoc-gen-es (buf.gen.yaml); the codecs produce and read exactly what protobuf-es does
 * (src/protocol/lean_codec_test.ts compares every message), so a field added to a .proto reaches
 * the lean path with the next `make gen`, and `make check-gen` fails while it has not.
 *
 * Options (buf.gen.yaml `opt`): `types=DIR`, where protoc-gen-es's output lies, relative to this
 * plugin's `out` folder (the generated code takes its message types from there, type-only);
 * `runtime=FILE`, the wire module (src/protocol/lean_wire.ts), relative to `out` as well.
 */
import {
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  ScalarType,
} from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import {
  createEcmaScriptPlugin,
  type GeneratedFile,
  runNodeJs,
  type Schema,
} from "@bufbuild/protoplugin";

interface Options {
  types: string;
  runtime: string;
}

/** The runtime method and wire type of each scalar type; zero is its value when unset. */
const SCALARS: Record<ScalarType, { method: string; wireType: number; zero: string }> = {
  [ScalarType.DOUBLE]: { method: "double", wireType: 1, zero: "0" },
  [ScalarType.FLOAT]: { method: "float", wireType: 5, zero: "0" },
  [ScalarType.INT64]: { method: "int64", wireType: 0, zero: "0n" },
  [ScalarType.UINT64]: { method: "uint64", wireType: 0, zero: "0n" },
  [ScalarType.INT32]: { method: "int32", wireType: 0, zero: "0" },
  [ScalarType.FIXED64]: { method: "fixed64", wireType: 1, zero: "0n" },
  [ScalarType.FIXED32]: { method: "fixed32", wireType: 5, zero: "0" },
  [ScalarType.BOOL]: { method: "bool", wireType: 0, zero: "false" },
  [ScalarType.STRING]: { method: "string", wireType: 2, zero: '""' },
  [ScalarType.BYTES]: { method: "bytes", wireType: 2, zero: "new Uint8Array(0)" },
  [ScalarType.UINT32]: { method: "uint32", wireType: 0, zero: "0" },
  [ScalarType.SFIXED32]: { method: "sfixed32", wireType: 5, zero: "0" },
  [ScalarType.SFIXED64]: { method: "sfixed64", wireType: 1, zero: "0n" },
  [ScalarType.SINT32]: { method: "sint32", wireType: 0, zero: "0" },
  [ScalarType.SINT64]: { method: "sint64", wireType: 0, zero: "0n" },
};

const LONG = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
  ScalarType.SINT64,
]);

/** What a field holds, whatever its cardinality. */
type Value =
  | { kind: "scalar"; scalar: ScalarType; longAsString: boolean }
  | { kind: "enum"; desc: DescEnum }
  | { kind: "message"; desc: DescMessage };

const tag = (no: number, wireType: number) => ((no << 3) | wireType) >>> 0;

function parseOptions(raw: { key: string; value: string }[]): Options {
  const options: Partial<Options> = {};
  for (const { key, value } of raw) {
    if (key !== "types" && key !== "runtime") {
      throw new Error(`unknown option "${key}" (protoc-gen-lean takes types= and runtime=)`);
    }
    options[key] = value.replace(/\/+$/, "");
  }
  if (!options.types || !options.runtime) {
    throw new Error("protoc-gen-lean needs the options types=DIR and runtime=FILE");
  }
  return options as Options;
}

/** Where `target` (relative to the output folder) is, seen from the generated file `from`. */
function relativeTo(from: string, target: string): string {
  const up = from.split("/").length - 1;
  const path = "../".repeat(up) + target;
  return path.startsWith(".") ? path : `./${path}`;
}

/** The identifier of a file's module namespace in another generated file. */
const moduleAlias = (file: DescFile) => `$${file.name.replace(/[^A-Za-z0-9]/g, "_")}`;

function valueOf(field: DescField): Value {
  if (field.fieldKind === "map") {
    if (field.mapKind === "scalar") {
      return { kind: "scalar", scalar: field.scalar, longAsString: false };
    }
    return field.mapKind === "enum"
      ? { kind: "enum", desc: field.enum }
      : { kind: "message", desc: field.message };
  }
  if (field.fieldKind === "list") {
    if (field.listKind === "scalar") {
      return { kind: "scalar", scalar: field.scalar, longAsString: field.longAsString };
    }
    return field.listKind === "enum"
      ? { kind: "enum", desc: field.enum }
      : { kind: "message", desc: field.message };
  }
  if (field.fieldKind === "scalar") {
    return { kind: "scalar", scalar: field.scalar, longAsString: field.longAsString };
  }
  return field.fieldKind === "enum"
    ? { kind: "enum", desc: field.enum }
    : { kind: "message", desc: field.message };
}

/** Refuses what the lean codec does not encode as protobuf-es does, naming the field. */
function checkSupported(field: DescField, generated: Set<DescFile>): void {
  const where = `${field.parent.typeName}.${field.name}`;
  if ("delimitedEncoding" in field && field.delimitedEncoding) {
    throw new Error(`${where}: groups (delimited encoding) are not supported by the lean codec`);
  }
  if (field.presence === 3) {
    throw new Error(`${where}: required fields are not supported by the lean codec`);
  }
  const value = valueOf(field);
  if (value.kind === "enum" && !value.desc.open) {
    throw new Error(`${where}: closed enums (proto2) are not supported by the lean codec`);
  }
  if (value.kind === "message" && !generated.has(value.desc.file)) {
    throw new Error(
      `${where}: ${value.desc.typeName} comes from ${value.desc.file.name}, which is not generated`,
    );
  }
  if (field.fieldKind === "map" && field.mapKey === ScalarType.BOOL) {
    throw new Error(`${where}: maps with bool keys are not supported by the lean codec`);
  }
}

/** One generated file: names and imports of the messages it refers to. */
class Emitter {
  readonly #file: GeneratedFile;
  readonly #desc: DescFile;
  readonly #imports = new Map<DescFile, string>();
  readonly types = new Set<string>();

  constructor(file: GeneratedFile, desc: DescFile) {
    this.#file = file;
    this.#desc = desc;
  }

  shape(desc: DescMessage | DescEnum): string {
    const name = this.#file.importShape(desc).name;
    if (desc.file === this.#desc) this.types.add(name);
    return name;
  }

  schema(desc: DescMessage): string {
    const name = this.#file.importSchema(desc, true).name;
    this.types.add(name);
    return name;
  }

  /** `readX`/`writeX` of a message, through its module when another file declares it. */
  fn(prefix: "read" | "write" | "zero", desc: DescMessage): string {
    const name = `${prefix}${this.#file.importShape(desc).name}`;
    if (desc.file === this.#desc) return name;
    const alias = moduleAlias(desc.file);
    this.#imports.set(desc.file, alias);
    return `${alias}.${name}`;
  }

  get imports(): Map<DescFile, string> {
    return this.#imports;
  }
}

function zeroValue(e: Emitter, value: Value): string {
  if (value.kind === "enum") return String(value.desc.values[0].number);
  if (value.kind === "message") return `${e.fn("zero", value.desc)}()`;
  if (value.longAsString && LONG.has(value.scalar)) return '"0"';
  return SCALARS[value.scalar].zero;
}

/** Code that reads one value of `value` from `r` (the reader is at the value, past the tag). */
function readValue(e: Emitter, value: Value, into = "undefined"): string {
  if (value.kind === "enum") return "r.int32()";
  if (value.kind === "message") return `${e.fn("read", value.desc)}(r, r.end(), ${into})`;
  const read = `r.${SCALARS[value.scalar].method}()`;
  return value.longAsString && LONG.has(value.scalar) ? `String(${read})` : read;
}

/** Statements that write one value `v` of `value` with field number `no`, tag included. */
function writeValue(e: Emitter, value: Value, no: number, v: string): string {
  if (value.kind === "message") {
    return `w.uint32(${tag(no, 2)}).fork(); ${e.fn("write", value.desc)}(w, ${v}); w.join();`;
  }
  if (value.kind === "enum") return `w.uint32(${tag(no, 0)}).int32(${v});`;
  const scalar = SCALARS[value.scalar];
  return `w.uint32(${tag(no, scalar.wireType)}).${scalar.method}(${v});`;
}

/** The TypeScript type of one value (a map's values). */
function tsType(e: Emitter, value: Value): string {
  if (value.kind === "enum") return "number";
  if (value.kind === "message") return e.shape(value.desc);
  if (value.longAsString && LONG.has(value.scalar)) return "string";
  if (LONG.has(value.scalar)) return "bigint";
  switch (value.scalar) {
    case ScalarType.BOOL:
      return "boolean";
    case ScalarType.STRING:
      return "string";
    case ScalarType.BYTES:
      return "Uint8Array";
    default:
      return "number";
  }
}

/** The test protobuf-es makes before writing a field of implicit presence. */
function isSet(value: Value, v: string): string {
  if (value.kind === "enum") return `${v} !== undefined && ${v} !== ${value.desc.values[0].number}`;
  if (value.kind === "message") return `${v} !== undefined`;
  switch (value.scalar) {
    case ScalarType.BOOL:
      return `${v} !== undefined && ${v} !== false`;
    case ScalarType.STRING:
      return `${v} !== undefined && ${v} !== ""`;
    case ScalarType.BYTES:
      return `${v} !== undefined && ${v}.length > 0`;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return `${v} !== undefined && !Object.is(${v}, 0)`;
    default:
      // As protobuf-es compares (loosely): 0, 0n and "0" are all unset.
      if (LONG.has(value.scalar)) {
        return value.longAsString
          ? `${v} !== undefined && Number(${v}) !== 0`
          : `${v} !== undefined && ${v} != 0n`;
      }
      return `${v} !== undefined && ${v} !== 0`;
  }
}

/** Map keys are object keys (strings): the key's scalar from one, as protobuf-es converts it. */
function mapKeyFromString(scalar: ScalarType, k: string): string {
  if (scalar === ScalarType.STRING) return k;
  if (LONG.has(scalar)) return `BigInt(${k})`;
  return `Number.parseInt(${k})`;
}

function messageFunctions(e: Emitter, desc: DescMessage, generated: Set<DescFile>): string[] {
  const name = e.shape(desc);
  const schema = e.schema(desc);
  const fields = [...desc.fields].sort((a, b) => a.number - b.number);
  for (const field of fields) checkSupported(field, generated);
  const out: string[] = [];

  // The zero message, as create() makes it.
  const zero = [`$typeName: "${desc.typeName}"`];
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      zero.push(`${member.localName}: { case: undefined }`);
      continue;
    }
    const field = member;
    if (field.fieldKind === "list") zero.push(`${field.localName}: []`);
    else if (field.fieldKind === "map") zero.push(`${field.localName}: {}`);
    else if (field.fieldKind === "message" || field.presence === 1) continue;
    else zero.push(`${field.localName}: ${zeroValue(e, valueOf(field))}`);
  }

  // Reading: every field by its tag (a field arriving with a wire type it does not have is kept
  // as unknown); a singular message field seen twice is merged, as protobuf-es merges it.
  const cases: string[] = [];
  for (const field of fields) {
    const value = valueOf(field);
    const no = field.number;
    const local = field.localName;
    if (field.fieldKind === "map") {
      const key = { kind: "scalar" as const, scalar: field.mapKey, longAsString: false };
      const keyTag = tag(1, SCALARS[field.mapKey].wireType);
      const valueTag = value.kind === "scalar"
        ? tag(2, SCALARS[value.scalar].wireType)
        : value.kind === "enum"
        ? tag(2, 0)
        : tag(2, 2);
      cases.push(
        `case ${tag(no, 2)}: {`,
        `  const end = r.end();`,
        `  let key: ${tsType(e, key)} = ${zeroValue(e, key)};`,
        `  let value: ${tsType(e, value)} | undefined;`,
        `  while (r.pos < end) {`,
        `    const t = r.uint32();`,
        `    if (t === ${keyTag}) key = ${readValue(e, key)};`,
        `    else if (t === ${valueTag}) value = ${readValue(e, value, "value")};`,
        `    else r.skip(t & 7, t >>> 3);`,
        `  }`,
        `  r.check(end);`,
        `  setEntry(m.${local}, key, value ?? ${zeroValue(e, value)});`,
        `  break;`,
        `}`,
      );
      continue;
    }
    if (field.fieldKind === "list") {
      const unpacked = value.kind === "message"
        ? 2
        : value.kind === "enum"
        ? 0
        : SCALARS[value.scalar].wireType;
      cases.push(`case ${tag(no, unpacked)}: m.${local}.push(${readValue(e, value)}); break;`);
      if (unpacked !== 2) {
        cases.push(
          `case ${tag(no, 2)}: {`,
          `  const end = r.end();`,
          `  while (r.pos < end) m.${local}.push(${readValue(e, value)});`,
          `  r.check(end);`,
          `  break;`,
          `}`,
        );
      }
      continue;
    }
    const wireType = value.kind === "scalar"
      ? SCALARS[value.scalar].wireType
      : value.kind === "enum"
      ? 0
      : 2;
    if (field.oneof) {
      const oneof = field.oneof.localName;
      const merge = value.kind === "message"
        ? `m.${oneof}.case === "${local}" ? m.${oneof}.value : undefined`
        : undefined;
      cases.push(
        `case ${tag(no, wireType)}: m.${oneof} = { case: "${local}", value: ${
          readValue(e, value, merge)
        } }; break;`,
      );
    } else {
      cases.push(
        `case ${tag(no, wireType)}: m.${local} = ${readValue(e, value, `m.${local}`)}; break;`,
      );
    }
  }
  out.push(
    `/** A ${desc.typeName} with every field unset, as \`create(${schema})\` makes it. */`,
    `export function zero${name}(): ${name} {`,
    `  return { ${zero.join(", ")} };`,
    `}`,
    ``,
    `/** Reads a ${desc.typeName} ending at \`end\` into \`m\` (merging, as protobuf-es does). */`,
    `export function read${name}(r: LeanReader, end: number, m: ${name} = zero${name}()): ${name} {`,
    `  r.enter();`,
    `  while (r.pos < end) {`,
    `    const tag = r.uint32();`,
    `    switch (tag) {`,
    ...cases.map((c) => `      ${c}`),
    `      default: r.unknown(m, tag);`,
    `    }`,
    `  }`,
    `  r.leave(end);`,
    `  return m;`,
    `}`,
    ``,
  );

  // Writing: fields by number, oneof members where their numbers put them, then unknown fields.
  const writes: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const value = valueOf(field);
    const no = field.number;
    const v = `m.${field.localName}`;
    if (field.oneof) {
      // Members next to each other in number order share one switch.
      const oneof = field.oneof;
      const run: DescField[] = [];
      while (i < fields.length && fields[i].oneof === oneof) run.push(fields[i++]);
      i--;
      const o = `oneof_${oneof.localName}`;
      writes.push(`const ${o} = m.${oneof.localName};`, `switch (${o}?.case) {`);
      for (const member of run) {
        writes.push(
          `  case "${member.localName}": ${
            writeValue(e, valueOf(member), member.number, `${o}.value`)
          } break;`,
        );
      }
      writes.push(`}`);
      continue;
    }
    if (field.fieldKind === "map") {
      const keyScalar = field.mapKey;
      const key = { kind: "scalar" as const, scalar: keyScalar, longAsString: false };
      writes.push(
        `if (${v} !== undefined) {`,
        `  const map = ${v} as unknown as Record<string, never>;`,
        `  for (const k of Object.keys(map)) {`,
        `    w.uint32(${tag(no, 2)}).fork();`,
        `    ${writeValue(e, key, 1, mapKeyFromString(keyScalar, "k"))}`,
        `    ${writeValue(e, value, 2, "map[k]")}`,
        `    w.join();`,
        `  }`,
        `}`,
      );
      continue;
    }
    if (field.fieldKind === "list") {
      if (field.packed) {
        const method = value.kind === "enum"
          ? "int32"
          : SCALARS[(value as { scalar: ScalarType }).scalar].method;
        writes.push(
          `if (${v} !== undefined && ${v}.length > 0) {`,
          `  w.uint32(${tag(no, 2)}).fork();`,
          `  for (const item of ${v}) w.${method}(item);`,
          `  w.join();`,
          `}`,
        );
      } else {
        writes.push(`for (const item of ${v} ?? []) { ${writeValue(e, value, no, "item")} }`);
      }
      continue;
    }
    const present = field.fieldKind === "message" || field.presence === 1
      ? `${v} !== undefined`
      : isSet(value, v);
    writes.push(`if (${present}) { ${writeValue(e, value, no, v)} }`);
  }
  out.push(
    `/** Writes the fields of a ${desc.typeName}, as \`toBinary\` does. */`,
    `export function write${name}(w: LeanWriter, m: MessageInitShape<typeof ${schema}>): void {`,
    ...writes.map((line) => `  ${line}`),
    `  w.unknown(m);`,
    `}`,
    ``,
    `/**`,
    ` * Encodes a ${desc.typeName} to the bytes \`toBinary(${schema}, create(${schema}, message))\``,
    ` * gives, behind \`prefix\` spare bytes (an envelope header).`,
    ` */`,
    `export function encode${name}(message: MessageInitShape<typeof ${schema}>, prefix = 0): Uint8Array {`,
    `  const w = new LeanWriter();`,
    `  write${name}(w, message);`,
    `  return w.finish(prefix);`,
    `}`,
    ``,
    `/** Decodes a ${desc.typeName} into what \`fromBinary(${schema}, bytes)\` gives. */`,
    `export function decode${name}(bytes: Uint8Array): ${name} {`,
    `  return read${name}(new LeanReader(bytes), bytes.length);`,
    `}`,
    ``,
  );
  return out;
}

function enumConstant(e: Emitter, desc: DescEnum): string[] {
  const name = e.shape(desc);
  e.types.delete(name);
  return [
    `/** The values of ${desc.typeName}, as protoc-gen-es names them, without loading its module. */`,
    `export const ${name} = {`,
    ...desc.values.map((v) => `  ${v.localName}: ${v.number},`),
    `} as const;`,
    ``,
  ];
}

function generateTs(schema: Schema<Options>): void {
  const generated = new Set(schema.files);
  for (const file of schema.files) {
    if (file.edition !== 999) {
      throw new Error(`${file.name}: the lean codec supports proto3 files only`);
    }
    const f = schema.generateFile(`${file.name}_lean.ts`);
    const e = new Emitter(f, file);
    const body: string[] = [];
    for (const desc of nestedTypes(file)) {
      if (desc.kind === "enum") body.push(...enumConstant(e, desc));
      else if (desc.kind === "message" && !desc.proto.options?.mapEntry) {
        body.push(...messageFunctions(e, desc, generated));
      }
    }
    f.preamble(file);
    const pb = relativeTo(file.name, `${schema.options.types}/${file.name}_pb.ts`);
    const wire = relativeTo(file.name, schema.options.runtime);
    const usesMessages = body.some((line) => line.startsWith("export function"));
    if (usesMessages) {
      f.print(`import type { MessageInitShape } from "@bufbuild/protobuf";`);
      f.print(`import type { ${[...e.types].sort().join(", ")} } from "${pb}";`);
      const runtime = ["LeanReader", "LeanWriter"];
      if (body.some((line) => line.includes("setEntry("))) runtime.push("setEntry");
      f.print(`import { ${runtime.join(", ")} } from "${wire}";`);
    }
    for (const [dep, alias] of [...e.imports].sort((a, b) => a[1].localeCompare(b[1]))) {
      f.print(`import * as ${alias} from "${relativeTo(file.name, dep.name)}_lean.ts";`);
    }
    f.print();
    for (const line of body) f.print(line);
  }
}

export const protocGenLean = createEcmaScriptPlugin({
  name: "protoc-gen-lean",
  version: "v1",
  parseOptions,
  generateTs,
});

if (import.meta.main) runNodeJs(protocGenLean);
