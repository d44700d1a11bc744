/** runFileSendSession, runFileFetchSession: `cmdop connect cp` on the machine's side. */
import { resolve } from "node:path";
import { OutputStream } from "../../gen/cmdop/v1/session_pb.ts";
import { CreditGate, sessionWindow } from "../lib/credit.ts";
import { readArchive } from "../lib/files/archive_reader.ts";
import { receiveArchive } from "../lib/files/archive_receiver.ts";
import { newSentSummary, openArchiveSource, writeArchive } from "../lib/files/archive_writer.ts";
import { INPUT_WINDOW_BYTES, outputFrame, type SessionChannel } from "./channel.ts";
import { COALESCE_LIMIT } from "./coalesce.ts";

export interface FileSessionEnvironment {
  /** Where relative paths start (the agent's home folder). */
  home?: string;
  log: (message: string) => void;
}

/** The client hung up (close frame, or the relay's stream ended) before the copy was over. */
class HungUp extends Error {
  override name = "HungUp";
}

/**
 * Writes the archive stream the client sends under `open.file.path` (relative to home).
 * Input is credited back as the receiver takes it, so at most one window is queued here;
 * a hang-up ends the receiver, which removes the file it was writing.
 *
 * @example
 * ```ts
 * await runFileSendSession(channel, { home: Deno.env.get("HOME"), log });
 * ```
 */
export async function runFileSendSession(
  channel: SessionChannel,
  environment: FileSessionEnvironment,
): Promise<void> {
  const destination = remotePath(channel, environment);
  channel.send(outputFrame({ case: "ready", value: { windowBytes: INPUT_WINDOW_BYTES } }));
  try {
    const summary = await receiveArchive(readArchive(inputBytes(channel)), { destination });
    environment.log(
      `file copy: received ${summary.files} file(s), ` +
        `${summary.bytes} bytes into ${destination}`,
    );
    channel.send(outputFrame({ case: "exit", value: { code: 0 } }));
  } catch (error) {
    if (error instanceof HungUp) {
      environment.log(`file copy: the client hung up during a copy`);
      return;
    }
    channel.send(outputFrame({ case: "exit", value: { code: 1, error: messageOf(error) } }));
  }
}

/**
 * Sends `open.file.path` (relative to home; a folder only with `open.file.recursive`) as an
 * archive stream of stdout output frames under the session's credit, then an exit frame. A
 * path that cannot be sent is refused before the session is ready, as exec refuses a command
 * that does not start.
 *
 * @example
 * ```ts
 * await runFileFetchSession(channel, { home: Deno.env.get("HOME"), log });
 * ```
 */
export async function runFileFetchSession(
  channel: SessionChannel,
  environment: FileSessionEnvironment,
): Promise<void> {
  const path = remotePath(channel, environment);
  let source;
  try {
    source = await openArchiveSource(path, channel.open.file?.recursive ?? false);
  } catch (error) {
    channel.send(outputFrame({ case: "exit", value: { code: 1, error: messageOf(error) } }));
    return;
  }
  channel.send(outputFrame({ case: "ready", value: { windowBytes: INPUT_WINDOW_BYTES } }));
  const window = sessionWindow(channel.open.windowBytes);
  const gate = new CreditGate(window, window);
  let hungUp = false;
  const inputs = (async () => {
    for await (const input of channel.inputs) {
      if (input.msg.case === "credit") gate.grant(input.msg.value);
      else if (input.msg.case === "close") break;
    }
  })().catch(() => {}).finally(() => {
    hungUp = true;
    gate.close();
  });
  const summary = newSentSummary();
  try {
    for await (const block of writeArchive(source, summary, COALESCE_LIMIT)) {
      if (!(await gate.take(block.length))) break;
      const frame = { stream: OutputStream.STDOUT, data: block };
      if (!channel.send(outputFrame({ case: "output", value: frame }))) break;
    }
  } catch (error) {
    channel.send(outputFrame({ case: "exit", value: { code: 1, error: messageOf(error) } }));
    return;
  }
  if (hungUp) {
    environment.log(`file copy: the client hung up during a copy`);
    return;
  }
  environment.log(
    `file copy: sent ${summary.files} file(s), ${summary.bytes} bytes ` +
      `of ${path}`,
  );
  channel.send(outputFrame({ case: "exit", value: { code: 0 } }));
  // The input side ends when the relay closes the stream.
  void inputs;
}

/** The session's path on this machine: relative ones, and `~/…` as scp's remote shell reads it, start in home. */
function remotePath(channel: SessionChannel, environment: FileSessionEnvironment): string {
  const home = environment.home ?? Deno.cwd();
  const path = channel.open.file?.path ?? "";
  if (path === "~" || path.startsWith("~/")) return resolve(home, `.${path.slice(1)}`);
  return resolve(home, path);
}

/**
 * The client's data frames as bytes, ending at the empty frame that ends input. A frame is
 * credited back once the reader asks for the next one, i.e. once it has been written.
 */
async function* inputBytes(channel: SessionChannel): AsyncGenerator<Uint8Array> {
  const inputs = channel.inputs[Symbol.asyncIterator]();
  let owed = 0;
  for (;;) {
    // Credit goes back before waiting for more: the client sends nothing past its window.
    if (owed > 0) {
      channel.send(outputFrame({ case: "credit", value: owed }));
      owed = 0;
    }
    const next = await inputs.next();
    if (next.done) throw new HungUp("the relay ended the session");
    const msg = next.value.msg;
    if (msg.case === "data") {
      if (msg.value.length === 0) return;
      owed = msg.value.length;
      yield msg.value;
    } else if (msg.case === "close") {
      throw new HungUp("the client hung up");
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
