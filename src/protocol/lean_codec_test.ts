import assert from "node:assert/strict";
import {
  create,
  type DescField,
  type DescMessage,
  fromBinary,
  type Message,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenFile } from "@bufbuild/protobuf/codegenv2";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { inspect, isDeepStrictEqual } from "node:util";
import { describe, it } from "../../tests/_suite.ts";
import { LeanReader, LeanWriter } from "./lean_wire.ts";

// Every message of every generated file, found by walking gen/: nothing here names a message or a
// field, so a field or a message added to proto/ is compared as soon as `make gen` ran.

const ROOT = new URL("../../", import.meta.url);
const LEAN = new URL("src/protocol/lean/", ROOT);

interface LeanModule {
  [name: string]: unknown;
}
interface Codec {
  encode(message: unknown, prefix?: number): Uint8Array;
  decode(bytes: Uint8Array): Message;
}

function pbFiles(dir: URL, under = ""): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory) found.push(...pbFiles(new URL(`${entry.name}/`, dir), path));
    else if (entry.name.endsWith("_pb.ts")) found.push(path);
  }
  return found.sort();
}

/** Each message descriptor of gen/ with its lean codec. */
async function loadMessages(): Promise<{ desc: DescMessage; codec: Codec }[]> {
  const messages: { desc: DescMessage; codec: Codec }[] = [];
  for (const path of pbFiles(new URL("gen/", ROOT))) {
    const pb = await import(new URL(`gen/${path}`, ROOT).href) as Record<string, unknown>;
    const file = Object.values(pb).find((v): v is GenFile =>
      typeof v === "object" && v !== null && (v as { kind?: string }).kind === "file"
    );
    assert.ok(file, `gen/${path} exports no file descriptor`);
    const leanPath = path.replace(/_pb\.ts$/, "_lean.ts");
    const lean = await import(new URL(leanPath, LEAN).href) as LeanModule;
    for (const desc of nestedTypes(file)) {
      if (desc.kind !== "message" || desc.proto.options?.mapEntry) continue;
      const name: string = desc.typeName.slice(file.proto.package.length + 1).replaceAll(".", "_");
      const encode: unknown = lean[`encode${name}`];
      const decode: unknown = lean[`decode${name}`];
      assert.equal(typeof encode, "function", `${leanPath} has no encode${name}: run make gen`);
      assert.equal(typeof decode, "function", `${leanPath} has no decode${name}: run make gen`);
      messages.push({ desc, codec: { encode, decode } as Codec });
    }
  }
  return messages;
}

// Values at the edges of each scalar type, and a seeded generator for the rest.

const big = new Uint8Array(100_000).map((_, i) => (i * 7) % 251);
const EDGES: Record<ScalarType, unknown[]> = {
  [ScalarType.DOUBLE]: [0, -0, 1.5, -Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, NaN],
  [ScalarType.FLOAT]: [0, -0, 1.5, -3.25, 3.4028234663852886e38, -Infinity, NaN],
  [ScalarType.INT64]: [0n, 1n, -1n, 1_764_000_000_123n, 2n ** 63n - 1n, -(2n ** 63n)],
  [ScalarType.UINT64]: [0n, 1n, 2n ** 49n, 2n ** 64n - 1n],
  [ScalarType.INT32]: [0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31)],
  [ScalarType.FIXED64]: [0n, 1n, 2n ** 64n - 1n],
  [ScalarType.FIXED32]: [0, 1, 2 ** 32 - 1],
  [ScalarType.BOOL]: [false, true],
  [ScalarType.STRING]: ["", "a", "é", "日本語 🚀", "\u0000", "\uFEFFbom", "x".repeat(70_000)],
  [ScalarType.BYTES]: [new Uint8Array(0), new Uint8Array([0]), big.subarray(0, 70), big],
  [ScalarType.UINT32]: [0, 1, 127, 128, 16_384, 2 ** 32 - 1],
  [ScalarType.SFIXED32]: [0, -1, 2 ** 31 - 1, -(2 ** 31)],
  [ScalarType.SFIXED64]: [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)],
  [ScalarType.SINT32]: [0, -1, 1, 2 ** 31 - 1, -(2 ** 31)],
  [ScalarType.SINT64]: [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n)],
};

/** mulberry32: the same values on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Pick = <T>(values: readonly T[]) => T;

function scalarValue(
  scalar: ScalarType,
  longAsString: boolean,
  pick: Pick,
): unknown {
  const value = pick(EDGES[scalar]);
  return longAsString && typeof value === "bigint" ? String(value) : value;
}

/** One value of a field's element type (a list item, a map value, the field itself). */
function elementValue(field: DescField, pick: Pick, depth: number): unknown {
  const kind = field.fieldKind === "list"
    ? field.listKind
    : field.fieldKind === "map"
    ? field.mapKind
    : field.fieldKind;
  if (kind === "enum") {
    // Every value the enum has, and one it does not (open enums keep it).
    return pick([...field.enum!.values.map((v) => v.number), 99]);
  }
  if (kind === "message") return initOf(field.message!, pick, depth + 1);
  const longAsString = "longAsString" in field && field.longAsString === true;
  return scalarValue(field.scalar!, longAsString, pick);
}

function mapKey(scalar: ScalarType, pick: Pick): string {
  const key = pick(EDGES[scalar]);
  return String(key);
}

/** An init object for `create`, every field given a value `pick` chooses. */
function initOf(desc: DescMessage, pick: Pick, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 3) return init;
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const chosen = pick([undefined, ...member.fields]);
      if (chosen) {
        init[member.localName] = {
          case: chosen.localName,
          value: elementValue(chosen, pick, depth),
        };
      }
      continue;
    }
    const field = member;
    if (field.fieldKind === "list") {
      const n = pick([0, 1, 3]);
      init[field.localName] = Array.from({ length: n }, () => elementValue(field, pick, depth));
    } else if (field.fieldKind === "map") {
      const entries: Record<string, unknown> = {};
      for (let i = pick([0, 1, 3]); i > 0; i--) {
        entries[mapKey(field.mapKey, pick)] = elementValue(field, pick, depth);
      }
      init[field.localName] = entries;
    } else if (field.fieldKind === "message") {
      if (pick([true, false])) init[field.localName] = elementValue(field, pick, depth);
    } else {
      init[field.localName] = elementValue(field, pick, depth);
    }
  }
  return init;
}

/** Inits of a message: empty, each oneof case with the largest and the smallest values, random ones. */
function samples(desc: DescMessage): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [{}];
  const first: Pick = (values) => values[values.length - 1];
  const second: Pick = (values) => values[Math.min(1, values.length - 1)];
  out.push(initOf(desc, first), initOf(desc, second));
  for (const oneof of desc.oneofs) {
    for (const field of oneof.fields) {
      for (const pick of [first, second]) {
        out.push({
          [oneof.localName]: { case: field.localName, value: elementValue(field, pick, 0) },
        });
      }
    }
  }
  const rand = random(desc.typeName.length * 7919);
  const randomPick: Pick = (values) => values[Math.floor(rand() * values.length)];
  for (let i = 0; i < 25; i++) out.push(initOf(desc, randomPick));
  return out;
}

/** Unknown fields of every wire type, numbered past the message's own fields. */
function unknownFields(desc: DescMessage): Uint8Array {
  const no = Math.max(0, ...desc.fields.map((f) => f.number)) + 1;
  const w = new LeanWriter();
  w.uint32((no << 3) | 0).uint64(2n ** 64n - 1n);
  w.uint32(((no + 1) << 3) | 1).fixed64(7n);
  w.uint32(((no + 2) << 3) | 2).bytes(new Uint8Array([1, 2, 3]));
  w.uint32(((no + 3) << 3) | 5).fixed32(9);
  // A group holding a varint and a nested group.
  w.uint32(((no + 4) << 3) | 3).uint32(8).uint32(1).uint32(19).uint32(20).uint32(
    ((no + 4) << 3) | 4,
  );
  return w.finish();
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/** Where two encodings part, briefly: a failure must not print two 100 kB arrays. */
function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const around = (b: Uint8Array) => [...b.subarray(Math.max(0, at - 4), at + 12)].join(" ");
  assert.fail(
    `${what}: ${actual.length} bytes, protobuf-es ${expected.length}; they part at byte ${at}` +
      ` (lean: ${around(actual)} / protobuf-es: ${around(expected)})`,
  );
}

/** Deep equality with a short message (large strings and bytes cut). */
function same(actual: unknown, expected: unknown, what: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  const show = (v: unknown) => inspect(v, { depth: 6, maxArrayLength: 16, maxStringLength: 60 });
  assert.fail(`${what}:\nlean:     ${show(actual)}\nexpected: ${show(expected)}`);
}

const messages = await loadMessages();

describe("lean codecs (src/protocol/lean/, generated by make gen)", () => {
  it("cover every message of proto/", () => {
    assert.ok(messages.length >= 40, `only ${messages.length} messages found under gen/`);
    const names = messages.map((m) => m.desc.typeName);
    for (const name of ["cmdop.v1.SessionInput", "cmdop.v1.SessionOutput", "cmdop.v1.Machine"]) {
      assert.ok(names.includes(name), `${name} is not among ${names.join(", ")}`);
    }
  });

  it("encode every message byte for byte as protobuf-es's toBinary", () => {
    for (const { desc, codec } of messages) {
      for (const init of samples(desc)) {
        const message = create(desc, init);
        const expected = toBinary(desc, message);
        const what = `${desc.typeName} ${
          JSON.stringify(init, (_, v) => typeof v === "bigint" ? `${v}n` : v).slice(0, 200)
        }`;
        sameBytes(codec.encode(message), expected, `encoding ${what}`);
        // The init shape as callers pass it, without create().
        sameBytes(codec.encode(init), expected, `encoding the init of ${what}`);
        sameBytes(codec.encode(init, 5).subarray(5), expected, `with a prefix: ${what}`);
      }
    }
  });

  it("decode into the very objects fromBinary makes, and back", () => {
    for (const { desc, codec } of messages) {
      for (const init of samples(desc)) {
        const message = create(desc, init);
        const bytes = toBinary(desc, message);
        const decoded = codec.decode(bytes);
        same(decoded, fromBinary(desc, bytes), `decoding ${desc.typeName}`);
        same(decoded, message, `round trip of ${desc.typeName}`);
        same(
          fromBinary(desc, codec.encode(message)),
          message,
          `protobuf-es reading ${desc.typeName}`,
        );
      }
    }
  });

  it("keep unknown fields of every wire type, and write them back", () => {
    for (const { desc, codec } of messages) {
      const extra = unknownFields(desc);
      for (const init of samples(desc).slice(0, 6)) {
        const bytes = concat(toBinary(desc, create(desc, init)), extra);
        const expected = fromBinary(desc, bytes);
        assert.ok(expected.$unknown?.length === 5, "protobuf-es keeps the five unknown fields");
        const decoded = codec.decode(bytes);
        same(decoded, expected, `unknown fields of ${desc.typeName}`);
        sameBytes(
          codec.encode(decoded),
          toBinary(desc, expected),
          `unknown fields of ${desc.typeName}`,
        );
      }
    }
  });

  it("merge a message sent in two parts as protobuf-es merges it", () => {
    for (const { desc, codec } of messages) {
      const all = samples(desc);
      for (let i = 0; i + 1 < all.length; i += 2) {
        const bytes = concat(
          toBinary(desc, create(desc, all[i])),
          toBinary(desc, create(desc, all[i + 1])),
        );
        same(codec.decode(bytes), fromBinary(desc, bytes), `merging ${desc.typeName}`);
      }
    }
  });

  it("refuse a cut message wherever protobuf-es refuses it, and agree where it does not", () => {
    for (const { desc, codec } of messages) {
      for (const init of samples(desc)) {
        const bytes = toBinary(desc, create(desc, init));
        if (bytes.length > 400) continue;
        for (let cut = 0; cut < bytes.length; cut++) {
          const part = bytes.subarray(0, cut);
          let expected: Message | undefined;
          try {
            expected = fromBinary(desc, part);
          } catch {
            assert.throws(() => codec.decode(part), `${desc.typeName} cut at ${cut}`);
            continue;
          }
          same(codec.decode(part), expected, `${desc.typeName} cut at ${cut}`);
        }
      }
    }
  });
});

describe("lean wire format", () => {
  it("keeps a field of an unexpected wire type as unknown instead of misreading it", () => {
    const exit = messages.find((m) => m.desc.typeName === "cmdop.v1.Exit");
    assert.ok(exit);
    // Field 1 (int32 code) sent length-delimited.
    const bytes = new LeanWriter().uint32(10).bytes(new Uint8Array([1, 2])).finish();
    const decoded = exit.codec.decode(bytes) as Message & { code: number };
    assert.equal(decoded.code, 0);
    assert.deepEqual(decoded.$unknown, [{ no: 1, wireType: 2, data: bytes.subarray(1) }]);
  });

  it("refuses lengths past the end, deep group nesting and invalid UTF-8, naming the problem", () => {
    const r = (bytes: number[]) => new LeanReader(new Uint8Array(bytes));
    assert.throws(() => r([5, 1, 2]).bytes(), /premature end/);
    assert.throws(() => r([0x80]).uint32(), /premature end/);
    assert.throws(() => r(Array(11).fill(0xff)).uint32(), /longer than ten bytes/);
    const deep = [...Array(120).fill(0x0b), ...Array(120).fill(0x0c)];
    assert.throws(() => r(deep).unknown({}, r([0x0b]).uint32()), /nested deeper than 100/);
    assert.throws(() => r([2, 0xc3, 0x28]).string(), TypeError);
    assert.throws(() => r([0x0e]).unknown({}, 0x0e), /wire type 6/);
  });

  it("writes and reads every scalar at its edges", () => {
    for (const [type, values] of Object.entries(EDGES)) {
      const method = ScalarType[Number(type)].toLowerCase() as keyof LeanWriter & keyof LeanReader;
      for (const value of values) {
        const w = new LeanWriter() as unknown as Record<string, (v: unknown) => LeanWriter>;
        const bytes = w[method](value).finish();
        const read = (new LeanReader(bytes) as unknown as Record<string, () => unknown>)[method]();
        same(read, value, `${method} ${String(value).slice(0, 20)}`);
      }
    }
  });

  it("refuses numbers a field cannot hold, as protobuf-es does", () => {
    assert.throws(() => new LeanWriter().uint32(-1), /invalid uint32: -1/);
    assert.throws(() => new LeanWriter().int32(2 ** 31), /invalid int32/);
    assert.throws(() => new LeanWriter().int64(2n ** 63n), /invalid int64/);
    assert.throws(() => new LeanWriter().uint64(-1n), /invalid uint64/);
  });

  it("leaves the envelope header's place free in front of a message", () => {
    const payload = big.subarray(0, 1 << 16);
    const framed = new LeanWriter().uint32(18).bytes(payload).finish(5);
    assert.deepEqual(framed.subarray(0, 9), new Uint8Array([0, 0, 0, 0, 0, 18, 0x80, 0x80, 4]));
    sameBytes(framed.subarray(9), payload, "the payload");
  });
});
