/** The protobuf wire format for the generated lean codecs (src/protocol/lean/): every proto3 scalar, payload bytes copied once, unknown fields kept. */

// Why not @bufbuild/protobuf/wire's BinaryReader/BinaryWriter (measured 2026-12-02, loaded 2-core
// machine, bench/README.md): loading and first use of the exec path's codec took 17.9 ms p50 over
// this module, 17.3 ms with the hand-written codecs it replaced, 43.0 ms over protobuf/wire (its
// index also loads toBinary, fromBinary and reflection) and 194.6 ms with protobuf-es itself; a
// whole exec showed no difference among the first three (CPU within 0.3 %). And a payload is
// copied once here, behind the envelope header, where BinaryWriter copies it two or three times.

const encoder = new TextEncoder();
// protobuf-es reads proto3 strings strictly (invalid UTF-8 is an error) and keeps a leading U+FEFF.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Byte fields this long or longer are kept as views until `finish`, not copied byte by byte. */
const CHUNK_BYTES = 64;

/** How deep messages may nest in what is decoded (protobuf-es's limit too). */
export const MAX_DEPTH = 100;

/** A field the decoder did not know, as protobuf-es keeps it in `$unknown`. */
export interface LeanUnknownField {
  no: number;
  wireType: number;
  data: Uint8Array;
}

/** The message fields the codecs read and write beside the declared ones. */
interface WithUnknown {
  $unknown?: LeanUnknownField[];
}

/** A 64-bit integer as its low and high 32 bits. */
function split64(value: bigint | number | string, signed: boolean): [number, number] {
  const big = typeof value === "bigint" ? value : BigInt(value);
  const fits = signed ? BigInt.asIntN(64, big) === big : BigInt.asUintN(64, big) === big;
  if (!fits) throw new Error(`invalid ${signed ? "int64" : "uint64"}: ${value}`);
  const bits = BigInt.asUintN(64, big);
  return [Number(bits & 0xffffffffn), Number(bits >> 32n)];
}

function assertUint32(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`invalid uint32: ${value}`);
  }
}

function assertInt32(value: number): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new Error(`invalid int32: ${value}`);
  }
}

/**
 * Writes one message: small fields into a scratch array, large byte fields as
 * their own parts, joined once by `finish` (so payload bytes are copied once).
 * Nested messages are `fork()`ed and `join()`ed, which writes their length.
 *
 * @example
 * ```ts
 * const bytes = new LeanWriter().uint32(10).string("web").uint32(16).uint32(80).finish();
 * ```
 */
export class LeanWriter {
  #parts: Uint8Array[] = [];
  #scratch: number[] = [];
  #size = 0;
  #stack: [Uint8Array[], number][] = [];

  #flush(): void {
    if (this.#scratch.length === 0) return;
    this.#parts.push(Uint8Array.from(this.#scratch));
    this.#size += this.#scratch.length;
    this.#scratch = [];
  }

  #varint32(value: number): void {
    while (value > 0x7f) {
      this.#scratch.push((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    this.#scratch.push(value);
  }

  #varint64(lo: number, hi: number): void {
    while (hi !== 0 || lo > 0x7f) {
      this.#scratch.push((lo & 0x7f) | 0x80);
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.#scratch.push(lo);
  }

  #fixed(bytes: number, write: (view: DataView) => void): this {
    const out = new Uint8Array(bytes);
    write(new DataView(out.buffer));
    for (const b of out) this.#scratch.push(b);
    return this;
  }

  /** A tag or any uint32 varint. */
  uint32(value: number): this {
    assertUint32(value);
    this.#varint32(value);
    return this;
  }

  /** int32 and enums: negative values take ten bytes, as sign-extended 64-bit. */
  int32(value: number): this {
    assertInt32(value);
    if (value >= 0) this.#varint32(value);
    else this.#varint64(value >>> 0, 0xffffffff);
    return this;
  }

  sint32(value: number): this {
    assertInt32(value);
    this.#varint32(((value << 1) ^ (value >> 31)) >>> 0);
    return this;
  }

  bool(value: boolean): this {
    this.#scratch.push(value ? 1 : 0);
    return this;
  }

  int64(value: bigint | number | string): this {
    this.#varint64(...split64(value, true));
    return this;
  }

  uint64(value: bigint | number | string): this {
    this.#varint64(...split64(value, false));
    return this;
  }

  sint64(value: bigint | number | string): this {
    const n = typeof value === "bigint" ? value : BigInt(value);
    split64(n, true);
    const zigzag = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    this.#varint64(...split64(zigzag, false));
    return this;
  }

  fixed32(value: number): this {
    assertUint32(value);
    return this.#fixed(4, (v) => v.setUint32(0, value, true));
  }

  sfixed32(value: number): this {
    assertInt32(value);
    return this.#fixed(4, (v) => v.setInt32(0, value, true));
  }

  fixed64(value: bigint | number | string): this {
    const [lo, hi] = split64(value, false);
    return this.#fixed(8, (v) => (v.setUint32(0, lo, true), v.setUint32(4, hi, true)));
  }

  sfixed64(value: bigint | number | string): this {
    const [lo, hi] = split64(value, true);
    return this.#fixed(8, (v) => (v.setUint32(0, lo, true), v.setUint32(4, hi, true)));
  }

  float(value: number): this {
    return this.#fixed(4, (v) => v.setFloat32(0, value, true));
  }

  double(value: number): this {
    return this.#fixed(8, (v) => v.setFloat64(0, value, true));
  }

  /** Length-prefixed bytes. */
  bytes(value: Uint8Array): this {
    this.#varint32(value.length);
    return this.raw(value);
  }

  string(value: string): this {
    return this.bytes(encoder.encode(value));
  }

  /** Bytes as they are (an unknown field's value). */
  raw(value: Uint8Array): this {
    if (value.length < CHUNK_BYTES) {
      for (const b of value) this.#scratch.push(b);
      return this;
    }
    this.#flush();
    this.#parts.push(value);
    this.#size += value.length;
    return this;
  }

  /** Starts a length-delimited part (a message, a packed list, a map entry). */
  fork(): this {
    this.#flush();
    this.#stack.push([this.#parts, this.#size]);
    this.#parts = [];
    this.#size = 0;
    return this;
  }

  /** Ends the part `fork` started, writing its length in front of it. */
  join(): this {
    this.#flush();
    const [parts, size] = this.#stack.pop() ?? [];
    if (parts === undefined || size === undefined) throw new Error("join() without fork()");
    const inner = this.#parts;
    const innerSize = this.#size;
    this.#parts = parts;
    this.#size = size;
    this.#varint32(innerSize);
    this.#flush();
    for (const part of inner) this.#parts.push(part);
    this.#size += innerSize;
    return this;
  }

  /** Writes back the fields a decoder kept in `$unknown`, as protobuf-es does. */
  unknown(message: object): this {
    const unknown = (message as WithUnknown).$unknown;
    if (unknown === undefined) return this;
    for (const field of unknown) {
      this.uint32((field.no << 3 | field.wireType) >>> 0).raw(field.data);
    }
    return this;
  }

  /** The message, behind `prefix` spare bytes that the caller fills (an envelope header). */
  finish(prefix = 0): Uint8Array {
    if (this.#stack.length > 0) throw new Error("finish() inside a fork()");
    this.#flush();
    const out = new Uint8Array(prefix + this.#size);
    let offset = prefix;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

function premature(): Error {
  return new Error("invalid protobuf: premature end of input");
}

/**
 * Reads fields in order; byte fields are views into the input, not copies.
 * Every read checks the input's bounds; lengths that point past the end are
 * an error, never a read of what follows.
 *
 * @example
 * ```ts
 * const r = new LeanReader(bytes);
 * while (r.pos < bytes.length) { const tag = r.uint32(); … }
 * ```
 */
export class LeanReader {
  pos = 0;
  #depth = 0;
  #view?: DataView;
  constructor(readonly buf: Uint8Array) {}

  #byte(): number {
    if (this.pos >= this.buf.length) throw premature();
    return this.buf[this.pos++];
  }

  #advance(n: number): number {
    const start = this.pos;
    if (n > this.buf.length - start) throw premature();
    this.pos = start + n;
    return start;
  }

  #dataView(): DataView {
    return this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** A varint as its low 32 bits, unsigned (tags, lengths, uint32). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.#byte();
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    // A negative int32 is ten bytes long: its high bits are dropped.
    for (let i = 5; i < 10; i++) if (this.#byte() < 0x80) return result >>> 0;
    throw new Error("invalid protobuf: varint longer than ten bytes");
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  /** A varint as an unsigned 64-bit value. */
  #varint64(): bigint {
    // Values below 2^49 (timestamps in ms) need no BigInt arithmetic.
    let small = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.#byte();
      small += (b & 0x7f) * scale;
      if (b < 0x80) return BigInt(small);
      scale *= 128;
    }
    let big = BigInt(small);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.#byte();
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, big);
    }
    throw new Error("invalid protobuf: varint longer than ten bytes");
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.#varint64());
  }

  uint64(): bigint {
    return this.#varint64();
  }

  sint64(): bigint {
    const n = this.#varint64();
    return BigInt.asIntN(64, (n >> 1n) ^ -(n & 1n));
  }

  bool(): boolean {
    return this.#varint64() !== 0n;
  }

  fixed32(): number {
    return this.#dataView().getUint32(this.#advance(4), true);
  }

  sfixed32(): number {
    return this.#dataView().getInt32(this.#advance(4), true);
  }

  fixed64(): bigint {
    return this.#dataView().getBigUint64(this.#advance(8), true);
  }

  sfixed64(): bigint {
    return this.#dataView().getBigInt64(this.#advance(8), true);
  }

  float(): number {
    return this.#dataView().getFloat32(this.#advance(4), true);
  }

  double(): number {
    return this.#dataView().getFloat64(this.#advance(8), true);
  }

  /** Length-prefixed bytes, as a view into the input. */
  bytes(): Uint8Array {
    const length = this.uint32();
    const start = this.#advance(length);
    return this.buf.subarray(start, start + length);
  }

  string(): string {
    return decoder.decode(this.bytes());
  }

  /** Reads a length and says where the part it announces ends (a message, a packed list, a map entry). */
  end(): number {
    const length = this.uint32();
    if (length > this.buf.length - this.pos) throw premature();
    return this.pos + length;
  }

  /** Called as a message starts: nesting is bounded, whatever the input says. */
  enter(): void {
    if (++this.#depth > MAX_DEPTH) {
      throw new Error(`invalid protobuf: messages nested deeper than ${MAX_DEPTH}`);
    }
  }

  /** Called as a message ends at `end`: its last field must have ended there too. */
  leave(end: number): void {
    this.check(end);
    this.#depth--;
  }

  /** A part (a message, a packed list, a map entry) must end where its length said. */
  check(end: number): void {
    if (this.pos !== end) throw new Error("invalid protobuf: a field runs past its part");
  }

  /** Steps over a field's value; returns it as read (what `$unknown` keeps). */
  skip(wireType: number, fieldNo: number, depth = this.#depth): Uint8Array {
    const start = this.pos;
    switch (wireType) {
      case 0:
        this.#varint64();
        break;
      case 1:
        this.#advance(8);
        break;
      case 2:
        this.#advance(this.uint32());
        break;
      case 3:
        if (depth >= MAX_DEPTH) {
          throw new Error(`invalid protobuf: groups nested deeper than ${MAX_DEPTH}`);
        }
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== fieldNo) throw new Error("invalid protobuf: unmatched end of group");
            break;
          }
          this.skip(tag & 7, tag >>> 3, depth + 1);
        }
        break;
      case 5:
        this.#advance(4);
        break;
      default:
        throw new Error(`invalid protobuf: wire type ${wireType} of field ${fieldNo}`);
    }
    return this.buf.subarray(start, this.pos);
  }

  /**
   * Keeps a field the message does not declare (a newer peer's, or one of a
   * wire type the field does not have) in `$unknown`, as protobuf-es does.
   */
  unknown(message: object, tag: number): void {
    const no = tag >>> 3;
    const wireType = tag & 7;
    if (no === 0) throw new Error("invalid protobuf: field number 0");
    const data = this.skip(wireType, no);
    ((message as WithUnknown).$unknown ??= []).push({ no, wireType, data });
  }
}

/** Sets a map entry; a key "__proto__" becomes an own property, as protobuf-es makes it. */
export function setEntry(record: object, key: PropertyKey, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(record, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else (record as Record<PropertyKey, unknown>)[key] = value;
}
