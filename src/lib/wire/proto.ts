/** The protobuf wire format, just what cmdop's hand-written codecs need: varints, length-delimited fields, skipping. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Wire types of the protobuf encoding. */
export const WireType = { varint: 0, fixed64: 1, delimited: 2, fixed32: 5 } as const;

/**
 * Writes one message: small fields into a scratch array, large byte fields as
 * their own parts, joined once by `finish` (so payload bytes are copied once).
 *
 * @example
 * ```ts
 * const bytes = new ProtoWriter().string(1, "web").uint32(2, 80).finish();
 * ```
 */
export class ProtoWriter {
  #parts: Uint8Array[] = [];
  #scratch: number[] = [];
  #size = 0;

  #varint(value: number): void {
    // Values here are below 2^53; negative int32 take the 10-byte two's complement form.
    let v = value < 0 ? BigInt.asUintN(64, BigInt(value)) : value;
    if (typeof v === "bigint") {
      while (v > 0x7fn) {
        this.#scratch.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.#scratch.push(Number(v));
      return;
    }
    while (v > 0x7f) {
      this.#scratch.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.#scratch.push(v);
  }

  #flush(): void {
    if (this.#scratch.length === 0) return;
    this.#parts.push(Uint8Array.from(this.#scratch));
    this.#size += this.#scratch.length;
    this.#scratch = [];
  }

  /** A varint field (uint32, int32, enum, bool, int64 as number); `force` writes a zero too. */
  varint(field: number, value: number | boolean, force = false): this {
    const n = typeof value === "boolean" ? Number(value) : value;
    if (n === 0 && !force) return this;
    this.#varint(field * 8 + WireType.varint);
    this.#varint(n);
    return this;
  }

  /** A length-delimited field; `force` writes an empty one too (a oneof member, a present message). */
  bytes(field: number, value: Uint8Array, force = false): this {
    if (value.length === 0 && !force) return this;
    this.#varint(field * 8 + WireType.delimited);
    this.#varint(value.length);
    if (value.length < 64) {
      for (const b of value) this.#scratch.push(b);
      return this;
    }
    this.#flush();
    this.#parts.push(value);
    this.#size += value.length;
    return this;
  }

  string(field: number, value: string, force = false): this {
    return this.bytes(field, encoder.encode(value), force);
  }

  /** The message, behind `prefix` spare bytes that the caller fills (an envelope header). */
  finish(prefix = 0): Uint8Array {
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

/**
 * Reads fields in order; byte fields are views into the input, not copies.
 *
 * @example
 * ```ts
 * const r = new ProtoReader(bytes);
 * while (r.more()) { const [field, type] = r.tag(); … }
 * ```
 */
export class ProtoReader {
  #pos = 0;
  constructor(readonly buf: Uint8Array) {}

  more(): boolean {
    return this.#pos < this.buf.length;
  }

  /** Field number and wire type of the next field. */
  tag(): [number, number] {
    const tag = this.uint32();
    return [tag >>> 3, tag & 7];
  }

  /** A varint as its low 32 bits, unsigned. */
  uint32(): number {
    // Tags, lengths and small numbers end within five bytes: no BigInt needed.
    const buf = this.buf;
    let result = 0;
    for (let i = 0; i < 5 && this.#pos + i < buf.length; i++) {
      const byte = buf[this.#pos + i];
      result += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) {
        this.#pos += i + 1;
        return result >>> 0;
      }
    }
    return Number(BigInt.asUintN(32, this.varint64()));
  }

  int32(): number {
    return this.uint32() | 0;
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.varint64());
  }

  bool(): boolean {
    return this.varint64() !== 0n;
  }

  varint64(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.#pos >= this.buf.length) throw new Error("premature end of protobuf varint");
      const byte = this.buf[this.#pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    throw new Error("protobuf varint is too long");
  }

  bytes(): Uint8Array {
    const length = this.uint32();
    const end = this.#pos + length;
    if (end > this.buf.length) throw new Error("premature end of protobuf field");
    const view = this.buf.subarray(this.#pos, end);
    this.#pos = end;
    return view;
  }

  string(): string {
    return decoder.decode(this.bytes());
  }

  /** Steps over a field of a type the codec does not read (newer fields, unknown ones). */
  skip(wireType: number): void {
    if (wireType === WireType.varint) this.varint64();
    else if (wireType === WireType.delimited) this.bytes();
    else if (wireType === WireType.fixed64) this.#pos += 8;
    else if (wireType === WireType.fixed32) this.#pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}
