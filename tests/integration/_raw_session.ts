/** A raw TCP client of the relay's session route that hangs up at a chosen point (headers only, half a frame, half-closed, mid-output). */
import { create, toBinary } from "@bufbuild/protobuf";
import { SessionInputSchema, SessionKind } from "../../gen/cmdop/v1/session_pb.ts";

/** Where the raw client stops. */
export type Cut = "headers" | "half-frame" | "half-close" | "mid-output";

/** All cut points, in the order tests cycle through them. */
export const CUTS: Cut[] = ["headers", "half-frame", "half-close", "mid-output"];

const encoder = new TextEncoder();

/**
 * Opens an exec session of `argv` on `machineId` over HTTP/1.1 with a chunked
 * body, the way a Connect client would, then vanishes at `cut`: right after
 * the headers, halfway through the open frame, after shutting down its
 * writing side (then reading some output and closing), or after reading some
 * output. Resolves once the socket is closed.
 */
export async function rawSessionThenCut(
  relayUrl: string,
  apiKey: string,
  machineId: string,
  argv: string[],
  cut: Cut,
): Promise<void> {
  const url = new URL(relayUrl);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    await writeAll(
      conn,
      encoder.encode(
        "POST /cmdop.v1.SessionService/Session HTTP/1.1\r\n" +
          `host: ${url.host}\r\n` +
          "content-type: application/connect+proto\r\n" +
          "connect-protocol-version: 1\r\n" +
          `authorization: Bearer ${apiKey}\r\n` +
          "transfer-encoding: chunked\r\n\r\n",
      ),
    );
    if (cut === "headers") return;
    const open = toBinary(
      SessionInputSchema,
      create(SessionInputSchema, {
        msg: {
          case: "open",
          value: { machineId, kind: SessionKind.EXEC, argv, windowBytes: 64 * 1024 },
        },
      }),
    );
    const frame = new Uint8Array(5 + open.length);
    new DataView(frame.buffer).setUint32(1, open.length);
    frame.set(open, 5);
    if (cut === "half-frame") {
      await writeAll(conn, chunk(frame.subarray(0, Math.ceil(frame.length / 2))));
      return;
    }
    await writeAll(conn, chunk(frame));
    if (cut === "half-close") await conn.closeWrite();
    // Some output (the response headers and the first frames), then gone.
    const buffer = new Uint8Array(64 * 1024);
    let read = 0;
    const deadline = Date.now() + 30_000;
    while (read < 4096 && Date.now() < deadline) {
      const n = await conn.read(buffer);
      if (n === null) break;
      read += n;
    }
  } finally {
    conn.close();
  }
}

function chunk(data: Uint8Array): Uint8Array {
  const head = encoder.encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head);
  out.set(data, head.length);
  out.set(encoder.encode("\r\n"), head.length + data.length);
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
}
