/** contextStdioTransport: MCP's stdio transport (one JSON-RPC message a line) over the CliContext's stdin and stdout. */
import { Buffer } from "node:buffer";
import type { CliContext } from "../context.ts";
import { serialised } from "../serialised_output.ts";
import { type JSONRPCMessage, ReadBuffer, serializeMessage, type Transport } from "./sdk.ts";

/** A transport that also says when the client has gone (stdin ended). */
export interface ClosingTransport extends Transport {
  /** Resolves when stdin ends or the transport is closed. */
  closed: Promise<void>;
}

/**
 * The SDK's `StdioServerTransport` reads `process.stdin`; this one reads the context's, so the
 * server runs against a fake context in tests. End of stdin closes it once every request read
 * has been answered (`printf '…' | cmdop mcp` gets its answers). A line that is not a
 * JSON-RPC message goes to `onerror` and the next line is read.
 *
 * @example
 * ```ts
 * const transport = contextStdioTransport(ctx);
 * await server.connect(transport);
 * await transport.closed;
 * ```
 */
export function contextStdioTransport(ctx: CliContext): ClosingTransport {
  const out = serialised(ctx.stdout);
  const buffer = new ReadBuffer();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let markClosed: () => void;
  const closed = new Promise<void>((resolve) => markClosed = resolve);
  let isClosed = false;
  /** Requests read and not yet answered, and whether stdin has ended. */
  const unanswered = new Set<string | number>();
  let ended = false;
  const transport: ClosingTransport = {
    closed,
    start() {
      reader = ctx.stdin.readable.getReader();
      const read = async () => {
        for (;;) {
          const { done, value } = await reader!.read();
          if (done) break;
          buffer.append(Buffer.from(value));
          for (;;) {
            let message: JSONRPCMessage | null;
            try {
              message = buffer.readMessage();
            } catch (error) {
              transport.onerror?.(error as Error);
              continue;
            }
            if (message === null) break;
            if ("method" in message && "id" in message) unanswered.add(message.id);
            transport.onmessage?.(message);
          }
        }
      };
      read().catch((error) => transport.onerror?.(error)).finally(() => {
        ended = true;
        if (unanswered.size === 0) return transport.close();
      });
      return Promise.resolve();
    },
    async send(message) {
      await out.write(serializeMessage(message));
      const id = "method" in message || !("id" in message) ? undefined : message.id;
      if (id !== undefined && unanswered.delete(id)) {
        if (ended && unanswered.size === 0) await transport.close();
      }
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      buffer.clear();
      await reader?.cancel().catch(() => {});
      transport.onclose?.();
      markClosed();
    },
  };
  return transport;
}
