/** runForwardSession: one TCP connection from the machine, for `cmdop connect forward`. */
import { OutputStream } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditGate, sessionWindow } from "../lib/credit.ts";
import { describeError } from "../lib/supervise.ts";
import { halfOpenReadable } from "../lib/tcp_stream.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel } from "./channel.ts";
import { creditedFrames } from "./coalesce.ts";
import { outputData } from "./output_frame.ts";

export interface ForwardEnvironment {
  log: (message: string) => void;
  /** How long a connection may take to open (default {@linkcode CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
}

/** A target that neither accepts nor refuses (a firewall dropping SYNs) is given up after this. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects to `open.forward` and carries bytes both ways under credit: the
 * client's data frames are written to the connection (and credited back once
 * written, so at most the input window waits here), what the connection sends
 * goes out as stdout output within the client's window. An empty data frame
 * half-closes toward the target; the target's end of stream goes out as an
 * empty stdout frame. The exit frame comes when both directions have ended
 * (code 0) or the connection failed (code 1 and the error); a hang-up ends
 * the session at once. A target that cannot be reached answers before `ready`
 * with an exit whose error names the address, as a command that is not found
 * does for exec.
 *
 * @example
 * ```ts
 * await runForwardSession(channel, { log: console.error });
 * ```
 */
export async function runForwardSession(
  channel: SessionChannel,
  environment: ForwardEnvironment,
): Promise<void> {
  const { open } = channel;
  const host = open.forward?.host ?? "";
  const port = open.forward?.port ?? 0;
  const where = `${host}:${port}`;
  let conn: Deno.TcpConn;
  try {
    conn = await connectWithin(host, port, environment.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  } catch (error) {
    channel.send(outputFrame({
      case: "exit",
      value: { code: 1, error: `cannot connect to ${where} from this machine: ${reason(error)}` },
    }));
    return;
  }
  conn.setNoDelay(true);
  channel.send(outputFrame({ case: "ready", value: { windowBytes: INPUT_WINDOW_BYTES } }));

  // Clamped: the window bounds what is read from the target ahead of the client.
  const window = sessionWindow(open.windowBytes);
  const gate = new CreditGate(window, window);
  let failure: string | undefined;
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const inputEnded = Promise.withResolvers<void>();
  const hangUp = Promise.withResolvers<"hung up">();
  // A failed connection ends both directions.
  const fail = (what: string, error: unknown) => {
    failure ??= `${what} ${where}: ${reason(error)}`;
    closeConn();
    inputEnded.resolve();
  };

  // Target to client: the connection's bytes within the client's credit, then its end of stream.
  const downstream = (async () => {
    try {
      for await (const chunk of creditedFrames(halfOpenReadable(conn), gate)) {
        if (!channel.send(outputData(OutputStream.STDOUT, chunk))) return;
      }
      if (!closed) {
        channel.send(outputFrame({
          case: "output",
          value: { stream: OutputStream.STDOUT, data: new Uint8Array(0) },
        }));
      }
    } catch (error) {
      if (!closed) fail("reading from", error);
    }
  })();

  // Client to target: data frames written in order; credit returned once written.
  const upstream = (async () => {
    let writing = true;
    for await (const input of channel.inputs) {
      const msg = input.msg;
      if (msg.case === "credit") gate.grant(msg.value);
      else if (msg.case === "data" && writing) {
        if (msg.value.length === 0) {
          writing = false;
          await conn.closeWrite().catch((error) => fail("half-closing", error));
          inputEnded.resolve();
          continue;
        }
        try {
          await writeAll(conn, msg.value);
        } catch (error) {
          writing = false;
          fail("writing to", error);
          continue;
        }
        channel.send(outputFrame({ case: "credit", value: msg.value.length }));
      } else if (msg.case === "close") break;
    }
    // A hang-up, or the relay went away without a word.
  })().catch(() => {}).finally(() => hangUp.resolve("hung up"));

  // Ends when both directions are done (or the connection failed), or at once on a hang-up.
  const ending = await Promise.race([
    Promise.all([downstream, inputEnded.promise]).then(() => "done" as const),
    hangUp.promise,
  ]);
  gate.close();
  closeConn();
  if (ending === "hung up") return;
  channel.send(outputFrame({
    case: "exit",
    value: failure ? { code: 1, error: failure } : { code: 0 },
  }));
  // The input side ends when the relay closes the stream, having read the exit.
  void upstream;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

async function connectWithin(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<Deno.TcpConn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname, port, transport: "tcp" });
  try {
    return await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    // A connection that opens after the deadline is closed at once.
    attempt.then((late) => late.close(), () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "the connection was closed";
  if (error instanceof Deno.errors.NotFound) return "no such host";
  return describeError(error);
}
