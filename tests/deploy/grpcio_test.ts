/** A real gRPC client (grpcio, Debian's python3-grpcio) calling the relay: every call ends UNIMPLEMENTED with the message to use Connect or gRPC-Web. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { killAll, type RelayProcess, startRelay, type Workspace } from "../_harness.ts";
import { findProgram, needTools } from "../_tools.ts";

const skip = await needTools("grpcio against the relay", ["python3:grpc"]);

/**
 * Generic calls with raw bytes (no generated stubs): `unary_unary` and `unary_stream` on the
 * relay's paths. Prints one JSON object per call: its status code's name and its details.
 */
const CLIENT = `
import grpc, json, sys
target, key = sys.argv[1], sys.argv[2]
channel = grpc.insecure_channel(target)
def outcome(call):
    try:
        result = call()
        if not isinstance(result, bytes):
            result = list(result)
        return {"code": "OK"}
    except grpc.RpcError as error:
        return {"code": error.code().name, "details": error.details()}
auth = [("authorization", "Bearer " + key)] if key else []
unary = channel.unary_unary("/cmdop.v1.MachineService/ListMachines")
stream = channel.unary_stream("/cmdop.v1.SessionService/HalfSession")
health = channel.unary_unary("/grpc.health.v1.Health/Check")
for name, call in [
    ("unary", lambda: unary(b"", timeout=10, metadata=auth)),
    ("server_streaming", lambda: stream(b"", timeout=10, metadata=auth)),
    ("health", lambda: health(b"", timeout=10)),
]:
    print(json.dumps({"call": name, **outcome(call)}))
`;

describe("a gRPC client (grpcio)", { skip }, () => {
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("grpc");
  });
  after(killAll);

  async function callWith(key: string) {
    const out = await new Deno.Command(findProgram("python3:grpc")!, {
      args: ["-c", CLIENT, new URL(relay.url).host, key],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    return new TextDecoder().decode(out.stdout).trim().split("\n").map((line) => JSON.parse(line));
  }

  for (const [who, key] of [["with an API key", "valid"], ["with no credential", ""]]) {
    it(`gets UNIMPLEMENTED saying to use Connect or gRPC-Web, ${who}`, async () => {
      const results = await callWith(key === "valid" ? ws.api_key : key);
      assert.deepEqual(results.map((r) => r.call), ["unary", "server_streaming", "health"]);
      for (const result of results) {
        assert.equal(result.code, "UNIMPLEMENTED", JSON.stringify(result));
        assert.match(result.details, /does not serve the gRPC protocol/);
        assert.match(result.details, /call it with Connect or gRPC-Web/);
      }
    });
  }
});
