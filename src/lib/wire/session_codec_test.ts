import { describe, it } from "../../../tests/_suite.ts";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ListMachinesRequestSchema,
  ListMachinesResponseSchema,
} from "../../../gen/cmdop/v1/machine_pb.ts";
import {
  OutputStream,
  SessionInputSchema,
  SessionKind,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import {
  decodeListMachinesResponse,
  decodeSessionOutput,
  encodeListMachinesRequest,
  encodeSessionInput,
  OUTPUT_STREAM,
  SESSION_KIND,
  type SessionInputInit,
} from "./session_codec.ts";

const big = new Uint8Array(100_000).map((_, i) => i % 251);
const machine = {
  id: "9b128987-d9b6-4c6b-9a1c-2a206ec0bb20",
  hostname: "web-1",
  displayName: "Web one",
  online: true,
  lastHeartbeatMs: 1_764_000_000_123n,
  os: "linux",
  arch: "x86_64",
  hasPassword: true,
  createdMs: -5n,
  agentVersion: "0.1.0",
  labels: { env: "prod", role: "web", empty: "" },
};

const INPUTS: SessionInputInit[] = [
  {
    msg: {
      case: "open",
      value: {
        machineId: machine.id,
        kind: SessionKind.EXEC,
        argv: ["sh", "-c", "echo é; exit 3", ""],
        timeoutMs: 30_000,
        windowBytes: 4 << 20,
        machineToken: "cmt_x",
        env: { TERM: "xterm", EMPTY: "" },
        rows: 24,
        cols: 80,
        term: "xterm-256color",
        keepaliveMs: 10_000,
      },
    },
  },
  { msg: { case: "open", value: {} } },
  {
    msg: {
      case: "open",
      value: {
        machineId: machine.id,
        kind: SessionKind.FILE_FETCH,
        file: { path: "/etc/é", recursive: true },
      },
    },
  },
  { msg: { case: "open", value: { kind: SessionKind.FILE_SEND, file: {} } } },
  {
    msg: {
      case: "open",
      value: { kind: SessionKind.FORWARD, forward: { host: "db.internal", port: 5432 } },
    },
  },
  { msg: { case: "data", value: new Uint8Array(0) } },
  { msg: { case: "data", value: big } },
  { msg: { case: "resize", value: { rows: 50, cols: 0 } } },
  { msg: { case: "credit", value: 0 } },
  { msg: { case: "credit", value: 4_294_967_295 } },
  { msg: { case: "close", value: {} } },
  { msg: { case: "auth", value: { password: "hunter2" } } },
  { msg: { case: "keepalive", value: { sentMs: 1_764_000_000_123n } } },
  { msg: { case: "keepalive", value: { sentMs: 0n, reply: true } } },
  {},
];

const OUTPUTS = [
  { msg: { case: "ready" as const, value: { sessionId: "s1", windowBytes: 1 << 20, machine } } },
  { msg: { case: "ready" as const, value: {} } },
  { msg: { case: "ready" as const, value: { sessionId: "s2", readOnly: true } } },
  { msg: { case: "resize" as const, value: { rows: 50, cols: 132 } } },
  { msg: { case: "ready" as const, value: { sessionId: "s2", recorded: true } } },
  { msg: { case: "output" as const, value: { stream: 2, data: big } } },
  { msg: { case: "output" as const, value: { stream: 1, data: new Uint8Array(0) } } },
  {
    msg: {
      case: "exit" as const,
      value: { code: -1, signal: "SIGKILL", timedOut: true, error: "x" },
    },
  },
  { msg: { case: "exit" as const, value: { code: 0 } } },
  { msg: { case: "credit" as const, value: 7 } },
  { msg: { case: "challenge" as const, value: { machineId: "m", reason: "password" } } },
  { msg: { case: "granted" as const, value: { machineToken: "cmt_y", expiresMs: 86_400_000n } } },
  { msg: { case: "keepalive" as const, value: { sentMs: 1_764_000_000_123n, reply: true } } },
  { msg: { case: "keepalive" as const, value: {} } },
  // The hand-written codec of before dropped this frame: it was added to the proto after it
  // (the read-only fields above had to be added to it by hand).
  {
    msg: {
      case: "halfDuplex" as const,
      value: { sessionId: "s2", inputToken: "t", maxInputBytes: 1 << 20 },
    },
  },
  {},
];

describe("session codec", () => {
  it("encodes session frames as protobuf-es does", () => {
    for (const input of INPUTS) {
      const ours = encodeSessionInput(input);
      assert.deepEqual(fromBinary(SessionInputSchema, ours), create(SessionInputSchema, input));
      assert.deepEqual(ours, toBinary(SessionInputSchema, create(SessionInputSchema, input)));
    }
  });

  it("leaves room for an envelope header in front", () => {
    const framed = encodeSessionInput(INPUTS[6], 5);
    assert.deepEqual(framed.subarray(5), encodeSessionInput(INPUTS[6]));
  });

  it("decodes relay frames into the objects protobuf-es makes", () => {
    for (const output of OUTPUTS) {
      const bytes = toBinary(SessionOutputSchema, create(SessionOutputSchema, output));
      assert.deepEqual(decodeSessionOutput(bytes), fromBinary(SessionOutputSchema, bytes));
    }
  });

  it("reads and writes the machine list", () => {
    for (const onlineOnly of [true, false]) {
      const init = { onlineOnly };
      assert.deepEqual(
        encodeListMachinesRequest(init),
        toBinary(ListMachinesRequestSchema, create(ListMachinesRequestSchema, init)),
      );
    }
    const listed = create(ListMachinesResponseSchema, {
      machines: [machine, { id: "x" }],
      workspaceId: "w",
      workspaceName: "prod",
    });
    const bytes = toBinary(ListMachinesResponseSchema, listed);
    assert.deepEqual(
      decodeListMachinesResponse(bytes),
      fromBinary(ListMachinesResponseSchema, bytes),
    );
  });

  it("knows the enum values of the generated module", () => {
    // protoc-gen-es's enums map names to values and values back to names.
    const named = (e: object) => Object.fromEntries(Object.entries(e).filter(([k]) => isNaN(+k)));
    assert.deepEqual(SESSION_KIND, named(SessionKind));
    assert.deepEqual(OUTPUT_STREAM, named(OutputStream));
    assert.equal(SESSION_KIND.FORWARD, SessionKind.FORWARD);
  });

  it("keeps fields it does not know, as protobuf-es does", () => {
    // Field 15 (varint) and field 16 (bytes) in front of an exit frame.
    const unknown = new Uint8Array([0x78, 0x05, 0x82, 0x01, 0x01, 0x00]);
    const exit = toBinary(SessionOutputSchema, create(SessionOutputSchema, OUTPUTS[7]));
    const bytes = new Uint8Array([...unknown, ...exit]);
    const frame = decodeSessionOutput(bytes);
    assert.equal(frame.msg.case, "exit");
    assert.deepEqual(frame, fromBinary(SessionOutputSchema, bytes));
    assert.deepEqual(frame.$unknown?.map((f) => f.no), [15, 16]);
  });
});
