/** The fuzz test's seeded corpus: malformed Connect requests and plain-HTTP requests for every relay route. */

/** A seeded generator (mulberry32): the same seed gives the same corpus. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state += 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(length: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** One request of the corpus. */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
  /** What the generator made, for the failure report. */
  kind: string;
}

/** A route of the relay as the corpus sees it. */
export interface FuzzRoute {
  path: string;
  /** Connect RPCs: unary, or a stream of either side. */
  connect?: "unary" | "stream";
  /** Agent routes take the machine credential, client routes an API key; Enroll neither. */
  credential?: "agent" | "client" | "none";
}

/** The credentials a request may carry (valid ones reach the body parsers). */
export interface FuzzCredentials {
  apiKey: string;
  machine: string;
}

const encoder = new TextEncoder();

/** A Connect envelope whose length prefix says `declared` (default: the real length). */
export function envelope(
  data: Uint8Array,
  flags = 0,
  declared = data.length,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, declared >>> 0);
  out.set(data, 5);
  return out;
}

/** Protobuf-shaped bytes: fields with random numbers, wire types and payloads. */
function protobufish(rng: Rng): Uint8Array<ArrayBuffer> {
  const parts: number[] = [];
  const fields = rng.int(6);
  for (let i = 0; i < fields; i++) {
    const wire = rng.pick([0, 0, 1, 2, 2, 2, 5, 3, 7]);
    const field = 1 + rng.int(rng.next() < 0.9 ? 12 : 5000);
    varint(parts, (field << 3) | wire);
    if (wire === 0) varint(parts, rng.int(2 ** 31));
    else if (wire === 1) parts.push(...rng.bytes(8));
    else if (wire === 5) parts.push(...rng.bytes(4));
    else if (wire === 2) {
      const length = rng.int(64);
      // Sometimes the declared length runs past the end.
      varint(parts, rng.next() < 0.1 ? length + 1 + rng.int(1000) : length);
      const text = rng.next() < 0.5;
      for (let j = 0; j < length; j++) parts.push(text ? 97 + rng.int(26) : rng.int(256));
    }
  }
  return new Uint8Array(parts);
}

function varint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function mutate(rng: Rng, data: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(data);
  const flips = 1 + rng.int(4);
  for (let i = 0; i < flips && out.length > 0; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
  return out;
}

const INVALID_UTF8 = [[0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28]];

function jsonish(rng: Rng): Uint8Array<ArrayBuffer> {
  const samples = [
    "{",
    "[]",
    "null",
    '{"machineId": 12}',
    '{"hostname": {"a": 1}}',
    '{"argv": "not a list"}',
    '{"unknownField": true}',
    '{"msg": null}',
    `{"windowBytes": ${2 ** 40}}`,
    '"\\ud800"',
    "{".repeat(2000),
    '{"a":' + '"x"'.repeat(3) + "}",
  ];
  const text = encoder.encode(rng.pick(samples));
  if (rng.next() < 0.3) {
    const bad = rng.pick(INVALID_UTF8);
    const out = new Uint8Array(text.length + bad.length);
    out.set(text);
    out.set(bad, text.length);
    return out;
  }
  return new Uint8Array(text);
}

/**
 * Gzip of `size` zero bytes: with Connect's compression a body that expands
 * about 1000x (10 MB from ~10 KB).
 */
export async function gzipBomb(size = 10 * 1024 * 1024): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([new Uint8Array(size)]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const CONTENT_TYPES_UNARY = ["application/proto", "application/json"];
const CONTENT_TYPES_STREAM = ["application/connect+proto", "application/connect+json"];
const WRONG_TYPES = [
  "text/plain",
  "application/xml",
  "application/grpc",
  "multipart/form-data",
  "",
];

/**
 * One malformed request for `route`, chosen by `rng`.
 *
 * @example
 * ```ts
 * const request = fuzzRequest(new Rng(1), { path: "/healthz" }, credentials, bomb);
 * ```
 */
export function fuzzRequest(
  rng: Rng,
  route: FuzzRoute,
  credentials: FuzzCredentials,
  bomb: Uint8Array<ArrayBuffer>,
): FuzzRequest {
  return route.connect
    ? connectRequest(rng, route, credentials, bomb)
    : plainRequest(rng, route, bomb);
}

function authHeader(rng: Rng, route: FuzzRoute, credentials: FuzzCredentials): string | undefined {
  // SetPassword with a valid credential runs bcrypt (~70 ms of CPU): a few of those suffice.
  const valid = route.path.endsWith("/SetPassword") ? 0.02 : 0.7;
  if (rng.next() < valid) {
    if (route.credential === "agent") return `Bearer ${credentials.machine}`;
    if (route.credential === "client") return `Bearer ${credentials.apiKey}`;
  }
  return rng.pick([
    undefined,
    "Bearer",
    "Bearer cmk_forged",
    `Bearer cmm_${uuidShaped(rng)}.nope`,
    "Basic dXNlcjpwYXNz",
    `Bearer ${"x".repeat(4000)}`,
    "Bearer cma_expired",
  ]);
}

/** A random UUID-shaped id from `rng` (crypto.randomUUID would make the corpus unrepeatable). */
function uuidShaped(rng: Rng): string {
  const hex = Array.from(rng.bytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

function connectRequest(
  rng: Rng,
  route: FuzzRoute,
  credentials: FuzzCredentials,
  bomb: Uint8Array<ArrayBuffer>,
): FuzzRequest {
  const headers: Record<string, string> = {};
  const auth = authHeader(rng, route, credentials);
  if (auth) headers.authorization = auth;
  const stream = route.connect === "stream";
  const types = stream ? CONTENT_TYPES_STREAM : CONTENT_TYPES_UNARY;
  headers["content-type"] = rng.pick(types);
  const json = headers["content-type"].endsWith("json");
  const message = () => (json ? jsonish(rng) : protobufish(rng));
  const kinds = [
    "random",
    "mutated",
    "truncated",
    "length-prefix",
    "wrong-type",
    "gzip-bomb",
    "bad-headers",
    "empty",
    "get",
  ] as const;
  const kind = rng.pick(kinds);
  let body: Uint8Array<ArrayBuffer> | undefined;
  let method = "POST";
  let path = route.path;
  switch (kind) {
    case "random":
      body = rng.bytes(rng.int(2048));
      break;
    case "mutated":
      body = mutate(rng, stream ? envelope(message()) : message());
      break;
    case "truncated": {
      const full = envelope(message());
      body = full.slice(0, rng.int(full.length));
      break;
    }
    case "length-prefix":
      body = envelope(
        message(),
        rng.pick([0, 1, 2, 3, 0x80]),
        rng.pick([2 ** 32 - 1, 2 ** 31, 2 ** 24, 5 * 2 ** 20, 65_537]),
      );
      break;
    case "wrong-type":
      headers["content-type"] = rng.pick(WRONG_TYPES);
      body = message();
      break;
    case "gzip-bomb":
      if (stream) {
        headers["connect-content-encoding"] = "gzip";
        body = envelope(bomb, 1);
      } else {
        headers["content-encoding"] = "gzip";
        body = bomb;
      }
      break;
    case "bad-headers":
      headers["connect-timeout-ms"] = rng.pick(["-1", "abc", "99999999999", "0"]);
      headers["connect-protocol-version"] = rng.pick(["2", "", "1"]);
      if (rng.next() < 0.5) headers["x-pad"] = "p".repeat(rng.int(8000));
      body = stream ? envelope(message()) : message();
      break;
    case "empty":
      body = rng.next() < 0.5 ? undefined : new Uint8Array();
      break;
    case "get": {
      method = rng.pick(["GET", "PUT", "DELETE"]);
      const raw = Array.from(rng.bytes(rng.int(40))).map((b) =>
        `%${b.toString(16).padStart(2, "0")}`
      );
      path = `${route.path}?connect=v1&encoding=${rng.pick(["proto", "json", "x"])}&message=${
        raw.join("")
      }${rng.next() < 0.5 ? "&base64=1" : ""}&compression=${rng.pick(["gzip", "identity", "br"])}`;
      delete headers["content-type"];
      break;
    }
  }
  return { method, path, headers, body, kind };
}

function plainRequest(rng: Rng, route: FuzzRoute, bomb: Uint8Array<ArrayBuffer>): FuzzRequest {
  const headers: Record<string, string> = {};
  const kind = rng.pick(["form", "invalid-utf8", "random", "gzip", "method", "query"] as const);
  let method = rng.pick(["POST", "POST", "GET"]);
  let path = route.path;
  let body: Uint8Array<ArrayBuffer> | undefined;
  headers["content-type"] = rng.pick([
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json",
  ]);
  switch (kind) {
    case "form": {
      const fields = [
        "client_id",
        "grant_type",
        "device_code",
        "refresh_token",
        "token",
        "user_code",
      ];
      const pairs = Array.from(
        { length: rng.int(6) },
        () =>
          `${rng.pick(fields)}=${
            encodeURIComponent(String.fromCharCode(...rng.bytes(rng.int(30))))
          }`,
      );
      if (rng.next() < 0.3) pairs.push("client_id=cmdop-cli");
      body = new Uint8Array(encoder.encode(pairs.join("&")));
      break;
    }
    case "invalid-utf8":
      body = new Uint8Array([...encoder.encode("email="), ...rng.pick(INVALID_UTF8), 0x26]);
      break;
    case "random":
      body = rng.bytes(rng.int(4096));
      break;
    case "gzip":
      headers["content-encoding"] = "gzip";
      body = bomb;
      break;
    case "method":
      method = rng.pick(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
      break;
    case "query":
      method = "GET";
      path = `${route.path}?user_code=${encodeURIComponent(String.fromCharCode(...rng.bytes(50)))}`;
      break;
  }
  if (method === "GET" || method === "HEAD") body = undefined;
  return { method, path, headers, body, kind };
}
