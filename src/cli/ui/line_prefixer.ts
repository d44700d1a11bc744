/** LinePrefixer: one machine's output stream cut into whole lines, each marked with the machine's name. */

/**
 * Buffers the partial last line of a stream so that what it gives out is only whole
 * lines, each prefixed: output of machines running at once never mixes inside a line.
 *
 * @example
 * ```ts
 * const lines = new LinePrefixer("web-1 | ");
 * lines.push(bytes("a\nb")); // "web-1 | a\n"
 * lines.push(bytes("c\n")); // "web-1 | bc\n"
 * lines.flush(); // ""
 * ```
 */
export class LinePrefixer {
  #prefix: Uint8Array;
  #partial: Uint8Array[] = [];

  constructor(prefix: string) {
    this.#prefix = new TextEncoder().encode(prefix);
  }

  /** The whole lines completed by `data`, prefixed; empty when it completed none. */
  push(data: Uint8Array): Uint8Array {
    const last = data.lastIndexOf(0x0a);
    if (last < 0) {
      if (data.length) this.#partial.push(data.slice());
      return new Uint8Array(0);
    }
    const whole = join([...this.#partial, data.subarray(0, last + 1)]);
    this.#partial = last + 1 < data.length ? [data.slice(last + 1)] : [];
    return this.#prefixed(whole);
  }

  /** The unfinished last line, prefixed and ended with a newline; empty when there is none. */
  flush(): Uint8Array {
    if (this.#partial.length === 0) return new Uint8Array(0);
    const rest = join([...this.#partial, new Uint8Array([0x0a])]);
    this.#partial = [];
    return this.#prefixed(rest);
  }

  #prefixed(lines: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = [];
    let start = 0;
    while (start < lines.length) {
      const end = lines.indexOf(0x0a, start) + 1;
      parts.push(this.#prefix, lines.subarray(start, end));
      start = end;
    }
    return join(parts);
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
