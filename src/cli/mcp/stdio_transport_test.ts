import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CliContext } from "../context.ts";
import type { JSONRPCMessage } from "./sdk.ts";
import { contextStdioTransport } from "./stdio_transport.ts";

/** A context whose stdin yields `lines` and ends, and whose stdout is collected. */
function fakeContext(lines: string[]): { ctx: CliContext; written: () => string } {
  let written = "";
  const encoder = new TextEncoder();
  const output = {
    write(data: Uint8Array | string) {
      written += typeof data === "string" ? data : new TextDecoder().decode(data);
      return Promise.resolve();
    },
    isTerminal: () => false,
    size: () => undefined,
  };
  const ctx: CliContext = {
    stdin: {
      // Split inside a line, as a pipe may deliver it.
      readable: ReadableStream.from(
        lines.join("").match(/[\s\S]{1,7}/g)!.map((part) => encoder.encode(part)),
      ),
      isTerminal: () => false,
      setRaw: () => {},
    },
    stdout: output,
    stderr: output,
    env: () => undefined,
    home: () => {
      throw new Error("this test has no config folder");
    },
    now: () => 0,
    signal: new AbortController().signal,
  };
  return { ctx, written: () => written };
}

describe("contextStdioTransport()", () => {
  it("reads one message a line, skips a line that is not JSON-RPC, and answers before it closes", async () => {
    const request = { jsonrpc: "2.0", id: 7, method: "ping" };
    const { ctx, written } = fakeContext([
      "not json\n",
      JSON.stringify(request) + "\n",
      JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n",
    ]);
    const transport = contextStdioTransport(ctx);
    const received: JSONRPCMessage[] = [];
    const errors: string[] = [];
    let closedEarly = false;
    transport.onerror = (error) => errors.push(error.message);
    transport.onmessage = (message) => {
      received.push(message);
      if ("id" in message) {
        // Answered a moment later: stdin has ended by then, and the transport must wait.
        setTimeout(() => void transport.send({ jsonrpc: "2.0", id: 7, result: {} }), 20);
      }
    };
    transport.onclose = () => closedEarly = !written().includes('"id":7');
    await transport.start();
    await transport.closed;
    assert.deepEqual(received.map((m) => "method" in m ? m.method : ""), [
      "ping",
      "notifications/initialized",
    ]);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /not valid JSON/);
    assert.equal(written(), '{"jsonrpc":"2.0","id":7,"result":{}}\n');
    assert.equal(closedEarly, false, "closed only once the request was answered");
  });
});
