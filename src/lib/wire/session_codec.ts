/** Hand-written codecs of the messages an exec needs (session frames, the machine list), shaped like protobuf-es's. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ListMachinesRequestSchema,
  ListMachinesResponse,
  Machine,
} from "../../../gen/cmdop/v1/machine_pb.ts";
import type {
  OpenSessionSchema,
  SessionInputSchema,
  SessionOutput,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { ProtoReader, ProtoWriter } from "./proto.ts";

/** `SessionKind` values of session.proto, usable without loading the generated module. */
export const SESSION_KIND = { EXEC: 1, PTY: 2, FILE_SEND: 3, FILE_FETCH: 4, FORWARD: 5 } as const;

/** `OutputStream` values of session.proto. */
export const OUTPUT_STREAM = { STDOUT: 1, STDERR: 2 } as const;

/** A session frame to send, as `create(SessionInputSchema, …)` would take it. */
export type SessionInputInit = MessageInitShape<typeof SessionInputSchema>;
type OpenInit = MessageInitShape<typeof OpenSessionSchema>;

/**
 * Encodes a session frame (field numbers of `proto/cmdop/v1/session.proto`),
 * leaving `prefix` bytes free in front for an envelope header.
 *
 * @example
 * ```ts
 * const bytes = encodeSessionInput({ msg: { case: "credit", value: 65536 } });
 * ```
 */
export function encodeSessionInput(input: SessionInputInit, prefix = 0): Uint8Array {
  const w = new ProtoWriter();
  const msg = input.msg;
  switch (msg?.case) {
    case "open":
      w.bytes(1, encodeOpen(msg.value), true);
      break;
    case "data":
      w.bytes(2, msg.value, true);
      break;
    case "resize":
      w.bytes(
        3,
        new ProtoWriter().varint(1, msg.value.rows ?? 0).varint(2, msg.value.cols ?? 0).finish(),
        true,
      );
      break;
    case "credit":
      w.varint(4, msg.value, true);
      break;
    case "close":
      w.bytes(5, new Uint8Array(0), true);
      break;
    case "auth":
      w.bytes(6, new ProtoWriter().string(1, msg.value.password ?? "").finish(), true);
      break;
    case "keepalive":
      w.bytes(
        7,
        new ProtoWriter().varint(1, Number(msg.value.sentMs ?? 0))
          .varint(2, msg.value.reply ?? false).finish(),
        true,
      );
      break;
  }
  return w.finish(prefix);
}

function encodeOpen(open: OpenInit): Uint8Array {
  const w = new ProtoWriter().string(1, open.machineId ?? "").varint(2, open.kind ?? 0);
  for (const arg of open.argv ?? []) w.string(3, arg, true);
  w.varint(4, open.timeoutMs ?? 0).string(5, open.term ?? "").varint(6, open.rows ?? 0)
    .varint(7, open.cols ?? 0);
  for (const [key, value] of Object.entries(open.env ?? {})) {
    w.bytes(8, new ProtoWriter().string(1, key, true).string(2, value, true).finish(), true);
  }
  w.varint(9, open.windowBytes ?? 0).string(10, open.machineToken ?? "")
    .varint(11, open.keepaliveMs ?? 0);
  if (open.file) {
    w.bytes(
      12,
      new ProtoWriter().string(1, open.file.path ?? "").varint(2, open.file.recursive ?? false)
        .finish(),
      true,
    );
  }
  if (open.forward) {
    w.bytes(
      13,
      new ProtoWriter().string(1, open.forward.host ?? "").varint(2, open.forward.port ?? 0)
        .finish(),
      true,
    );
  }
  return w.finish();
}

/**
 * Decodes a frame from the relay into the object `fromBinary(SessionOutputSchema, …)` gives.
 *
 * @example
 * ```ts
 * const frame = decodeSessionOutput(bytes);
 * if (frame.msg.case === "output") write(frame.msg.value.data);
 * ```
 */
export function decodeSessionOutput(bytes: Uint8Array): SessionOutput {
  const r = new ProtoReader(bytes);
  let msg: SessionOutput["msg"] = { case: undefined };
  while (r.more()) {
    const [field, type] = r.tag();
    if (field === 1 && type === 2) msg = { case: "ready", value: decodeReady(r.bytes()) };
    else if (field === 2 && type === 2) msg = { case: "output", value: decodeOutput(r.bytes()) };
    else if (field === 3 && type === 2) msg = { case: "exit", value: decodeExit(r.bytes()) };
    else if (field === 4 && type === 0) msg = { case: "credit", value: r.uint32() };
    else if (field === 5 && type === 2) {
      const c = new ProtoReader(r.bytes());
      const value = { $typeName: "cmdop.v1.AuthChallenge" as const, machineId: "", reason: "" };
      fields(
        c,
        (f) =>
          f === 1
            ? (value.machineId = c.string(), true)
            : f === 2
            ? (value.reason = c.string(), true)
            : false,
      );
      msg = { case: "challenge", value };
    } else if (field === 6 && type === 2) {
      const g = new ProtoReader(r.bytes());
      const value = { $typeName: "cmdop.v1.AuthGranted" as const, machineToken: "", expiresMs: 0n };
      fields(
        g,
        (f) =>
          f === 1
            ? (value.machineToken = g.string(), true)
            : f === 2
            ? (value.expiresMs = g.int64(), true)
            : false,
      );
      msg = { case: "granted", value };
    } else if (field === 7 && type === 2) {
      const k = new ProtoReader(r.bytes());
      const value = { $typeName: "cmdop.v1.Keepalive" as const, sentMs: 0n, reply: false };
      fields(
        k,
        (f) =>
          f === 1
            ? (value.sentMs = k.int64(), true)
            : f === 2
            ? (value.reply = k.bool(), true)
            : false,
      );
      msg = { case: "keepalive", value };
    } else if (field === 9 && type === 2) {
      const z = new ProtoReader(r.bytes());
      const value = { $typeName: "cmdop.v1.Resize" as const, rows: 0, cols: 0 };
      fields(
        z,
        (f) =>
          f === 1
            ? (value.rows = z.uint32(), true)
            : f === 2
            ? (value.cols = z.uint32(), true)
            : false,
      );
      msg = { case: "resize", value };
    } else r.skip(type);
  }
  return { $typeName: "cmdop.v1.SessionOutput", msg };
}

/** Reads every field of a message, skipping those `read` does not take. */
function fields(r: ProtoReader, read: (field: number, type: number) => boolean): void {
  while (r.more()) {
    const [field, type] = r.tag();
    if (!read(field, type)) r.skip(type);
  }
}

function decodeReady(bytes: Uint8Array) {
  const r = new ProtoReader(bytes);
  // Like protobuf-es, an absent message field is an absent key, not `undefined`.
  const ready: {
    $typeName: "cmdop.v1.Ready";
    sessionId: string;
    machine?: Machine;
    windowBytes: number;
    readOnly: boolean;
  } = {
    $typeName: "cmdop.v1.Ready",
    sessionId: "",
    windowBytes: 0,
    readOnly: false,
  };
  fields(
    r,
    (f) =>
      f === 1
        ? (ready.sessionId = r.string(), true)
        : f === 2
        ? (ready.machine = decodeMachine(r.bytes()), true)
        : f === 3
        ? (ready.windowBytes = r.uint32(), true)
        : f === 4
        ? (ready.readOnly = r.bool(), true)
        : false,
  );
  return ready;
}

function decodeOutput(bytes: Uint8Array) {
  const r = new ProtoReader(bytes);
  const output = {
    $typeName: "cmdop.v1.Output" as const,
    stream: 0,
    data: new Uint8Array(0) as Uint8Array,
  };
  fields(
    r,
    (f) =>
      f === 1
        ? (output.stream = r.int32(), true)
        : f === 2
        ? (output.data = r.bytes(), true)
        : false,
  );
  return output;
}

function decodeExit(bytes: Uint8Array) {
  const r = new ProtoReader(bytes);
  const exit = {
    $typeName: "cmdop.v1.Exit" as const,
    code: 0,
    signal: "",
    timedOut: false,
    error: "",
  };
  fields(
    r,
    (f) =>
      f === 1
        ? (exit.code = r.int32(), true)
        : f === 2
        ? (exit.signal = r.string(), true)
        : f === 3
        ? (exit.timedOut = r.bool(), true)
        : f === 4
        ? (exit.error = r.string(), true)
        : false,
  );
  return exit;
}

/**
 * Encodes a `ListMachines` request.
 *
 * @example
 * ```ts
 * const body = encodeListMachinesRequest({ onlineOnly: true });
 * ```
 */
export function encodeListMachinesRequest(
  request: MessageInitShape<typeof ListMachinesRequestSchema>,
): Uint8Array {
  return new ProtoWriter().varint(1, request.onlineOnly ?? false).finish();
}

/**
 * Decodes a `ListMachines` answer as `fromBinary(ListMachinesResponseSchema, …)` would.
 *
 * @example
 * ```ts
 * const { machines, workspaceName } = decodeListMachinesResponse(bytes);
 * ```
 */
export function decodeListMachinesResponse(bytes: Uint8Array): ListMachinesResponse {
  const r = new ProtoReader(bytes);
  const list: ListMachinesResponse = {
    $typeName: "cmdop.v1.ListMachinesResponse",
    machines: [],
    workspaceId: "",
    workspaceName: "",
  };
  fields(
    r,
    (f) =>
      f === 1
        ? (list.machines.push(decodeMachine(r.bytes())), true)
        : f === 2
        ? (list.workspaceId = r.string(), true)
        : f === 3
        ? (list.workspaceName = r.string(), true)
        : false,
  );
  return list;
}

/** One entry of a `map<string, string>` field: key 1, value 2, either absent when empty. */
function decodeMapEntry(bytes: Uint8Array, into: Record<string, string>): void {
  const r = new ProtoReader(bytes);
  let key = "";
  let value = "";
  fields(
    r,
    (f) => f === 1 ? (key = r.string(), true) : f === 2 ? (value = r.string(), true) : false,
  );
  into[key] = value;
}

function decodeMachine(bytes: Uint8Array): Machine {
  const r = new ProtoReader(bytes);
  const m: Machine = {
    $typeName: "cmdop.v1.Machine",
    id: "",
    hostname: "",
    displayName: "",
    online: false,
    lastHeartbeatMs: 0n,
    os: "",
    arch: "",
    hasPassword: false,
    createdMs: 0n,
    agentVersion: "",
    labels: {},
  };
  const strings = [
    "",
    "id",
    "hostname",
    "displayName",
    "",
    "",
    "os",
    "arch",
    "",
    "",
    "agentVersion",
  ] as const;
  fields(r, (f) => {
    const name = strings[f];
    if (name) (m as unknown as Record<string, string>)[name] = r.string();
    else if (f === 4) m.online = r.bool();
    else if (f === 5) m.lastHeartbeatMs = r.int64();
    else if (f === 8) m.hasPassword = r.bool();
    else if (f === 9) m.createdMs = r.int64();
    else if (f === 11) decodeMapEntry(r.bytes(), m.labels);
    else return false;
    return true;
  });
  return m;
}
