/** `cmdop connect cp SOURCE DESTINATION`: files to or from a machine, streamed under credit, sha256 checked. */
import { basename } from "node:path";
import type { Exit } from "../../../../gen/cmdop/v1/session_pb.ts";
import { ArchiveError } from "../../../lib/files/archive_format.ts";
import { readArchive } from "../../../lib/files/archive_reader.ts";
import { receiveArchive, type ReceivedSummary } from "../../../lib/files/archive_receiver.ts";
import {
  type ArchiveSource,
  type ByteSource,
  newSentSummary,
  openArchiveSource,
  type SentSummary,
  writeArchive,
} from "../../../lib/files/archive_writer.ts";
import { FileCopyError } from "../../../lib/files/errors.ts";
import { MAX_CHUNK_BYTES } from "../../../lib/files/archive_format.ts";
import { SESSION_KIND } from "../../../lib/wire/session_codec.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { passwordSource } from "../../machine_password.ts";
import type { OpenedSession } from "../../session_client.ts";
import { openSession } from "../../session_client.ts";
import { readSuppliedLink } from "../../share_link_input.ts";
import { resolveTarget, type Target } from "../../target.ts";
import { type TransferProgress, transferProgress } from "../../ui/transfer_progress.ts";
import { parseCpOperands } from "./cp_operands.ts";

export interface CpOptions {
  source: string;
  destination: string;
  recursive: boolean;
  linkFile?: string;
}

/**
 * Blocks sent to the machine: one full content chunk each. The agent's input window is 1 MiB,
 * so four are in flight while it writes; 1 MiB blocks would leave one, sent and waited for in
 * turn.
 */
const SEND_BLOCK_BYTES = MAX_CHUNK_BYTES + 64;

/** Each side's outcome, the same whichever way the bytes went. */
interface CopyOutcome {
  files: number;
  bytes: number;
  skipped: { path: string; reason: string }[];
  failed: boolean;
  sha256?: string;
  single: boolean;
}

/**
 * Copies between this machine and a remote one (see the verb's help for the rules).
 *
 * @example
 * ```ts
 * await runCp(ctx, globals, state, { source: "a.txt", destination: "web-1:/tmp/", recursive: false });
 * ```
 */
export async function runCp(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: CpOptions,
): Promise<void> {
  const started = ctx.now();
  const plan = parseCpOperands(options.source, options.destination);
  const remoteOperand = plan.direction === "send" ? options.destination : options.source;
  if (globals.json && plan.direction === "fetch" && plan.local === "-") {
    throw new CliError("--json cannot be used with - as the destination", {
      hint: "stdout carries the file's bytes; leave out --json, or name a local file",
    });
  }
  const supplied = await readSuppliedLink(ctx, plan.host || undefined, options.linkFile);
  const target = supplied ?? (plan.host || undefined);
  if (target === undefined) {
    throw new CliError(`"${remoteOperand}" names no machine`, {
      hint: "write HOST:PATH, or give a share link with --link-file FILE or CMDOP_SHARE_LINK " +
        "for :PATH",
    });
  }
  // The local side is checked before the relay is asked anything.
  const source = plan.direction === "send"
    ? await localSource(ctx, plan.local, options.recursive)
    : undefined;
  const reached = await resolveTarget(ctx, globals, state, target);
  const remotePath = plan.remotePath || ".";
  const label = basename(plan.direction === "send" ? plan.local : remotePath) || remotePath;
  const progress = transferProgress(ctx, globals, label === "-" ? "stdin" : label);
  let outcome: CopyOutcome;
  try {
    outcome = source
      ? await send(ctx, globals, reached, source, remotePath, options.recursive, progress)
      : await fetch(ctx, globals, reached, remotePath, plan.local, options.recursive, progress);
  } finally {
    await progress.stop();
  }
  if (!globals.json) {
    for (const { path, reason } of outcome.skipped) {
      await ctx.stderr.write(`warning: skipped "${path}": ${reason}\n`);
    }
  }
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({
        source: options.source,
        destination: options.destination,
        files: outcome.files,
        bytes: outcome.bytes,
        skipped: outcome.skipped,
        ...(outcome.single && outcome.sha256 ? { sha256: outcome.sha256 } : {}),
        duration_ms: ctx.now() - started,
      }) + "\n",
    );
  }
  if (outcome.failed) {
    const failed = outcome.skipped.filter((s) => !/^(symbolic link|special file)$/.test(s.reason));
    throw new CliError(
      `${failed.length} item(s) could not be read on the sending side and were not copied`,
      { details: failed.map((s) => `  ${s.path}: ${s.reason}`) },
    );
  }
}

async function localSource(
  ctx: CliContext,
  local: string,
  recursive: boolean,
): Promise<ArchiveSource> {
  if (local === "-") return { kind: "stream", name: "stdin", stream: streamReader(ctx.stdin) };
  try {
    return await openArchiveSource(local, recursive);
  } catch (error) {
    throw asCliError(error);
  }
}

/** Sends `source` to `remotePath` on the machine; the agent confirms with exit 0. */
async function send(
  ctx: CliContext,
  globals: GlobalOptions,
  target: Target,
  source: ArchiveSource,
  remotePath: string,
  recursive: boolean,
  progress: TransferProgress,
): Promise<CopyOutcome> {
  const file = { path: remotePath, recursive };
  return await withCopySession(
    ctx,
    globals,
    target,
    SESSION_KIND.FILE_SEND,
    file,
    (session) => sendOver(ctx, session, target.machine.hostname, source, progress),
  );
}

async function sendOver(
  ctx: CliContext,
  session: OpenedSession,
  hostname: string,
  source: ArchiveSource,
  progress: TransferProgress,
): Promise<CopyOutcome> {
  let stopped = false;
  const exited = untilExit(session).finally(() => stopped = true);
  const summary: SentSummary = newSentSummary();
  let readError: unknown;
  const writing = (async () => {
    for await (const block of writeArchive(source, summary, SEND_BLOCK_BYTES)) {
      if (stopped) return;
      if (summary.total !== undefined) progress.total(summary.total);
      await session.write(block);
      progress.update(summary.bytes);
    }
    session.endInput();
  })().catch((error) => {
    readError = error;
    session.close();
  });
  const exit = await exited;
  await writing;
  if (ctx.signal.aborted) throw new CliError("interrupted");
  if (readError) throw asCliError(readError);
  confirmed(exit, hostname);
  return { ...summary, single: source.kind === "stream" || !source.isDirectory };
}

/** Fetches `remotePath` into `local` (or stdout for `-`). */
async function fetch(
  ctx: CliContext,
  globals: GlobalOptions,
  target: Target,
  remotePath: string,
  local: string,
  recursive: boolean,
  progress: TransferProgress,
): Promise<CopyOutcome> {
  const file = { path: remotePath, recursive };
  return await withCopySession(
    ctx,
    globals,
    target,
    SESSION_KIND.FILE_FETCH,
    file,
    (session) => fetchOver(ctx, session, target.machine.hostname, local, progress),
  );
}

async function fetchOver(
  ctx: CliContext,
  session: OpenedSession,
  hostname: string,
  local: string,
  progress: TransferProgress,
): Promise<CopyOutcome> {
  let exit: Exit | undefined;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    let owed = 0;
    for (;;) {
      // Credit goes back before waiting: the agent sends nothing past its window.
      if (owed > 0) session.consumed(owed);
      owed = 0;
      const next = await session.frames.next();
      if (next.done) return;
      const msg = next.value.msg;
      if (msg.case === "output") {
        owed = msg.value.data.length;
        yield msg.value.data;
      } else if (msg.case === "exit") {
        exit = msg.value;
        return;
      }
    }
  }
  let received: ReceivedSummary;
  try {
    received = await receiveArchive(readArchive(bytes()), {
      destination: local,
      sink: local === "-" ? (data) => ctx.stdout.write(data) : undefined,
      onTotal: (total) => progress.total(total),
      onProgress: (done) => progress.update(done),
    });
    // The archive's end is followed by the agent's word.
    while (!exit) {
      const next = await session.frames.next();
      if (next.done) break;
      if (next.value.msg.case === "exit") exit = next.value.msg.value;
    }
  } catch (error) {
    session.close();
    if (ctx.signal.aborted) throw error;
    // A stream cut short because the agent failed: its reason is the one to tell.
    const reported = exit as Exit | undefined;
    if (reported && reported.code !== 0) throw remoteError(reported, hostname);
    throw asCliError(error, hostname);
  }
  confirmed(exit, hostname);
  return { ...received, single: received.isDirectory === false };
}

/**
 * Opens a copy session on the target's machine (its password asked for if it has one) and
 * runs `use` with it; Ctrl-C closes the session, so `use` sees its frames end.
 */
async function withCopySession<T>(
  ctx: CliContext,
  globals: GlobalOptions,
  { conn, machine }: Target,
  kind: typeof SESSION_KIND.FILE_SEND | typeof SESSION_KIND.FILE_FETCH,
  file: { path: string; recursive: boolean },
  use: (session: OpenedSession) => Promise<T>,
): Promise<T> {
  const session = await openSession(
    conn,
    { machineId: machine.id, kind, file },
    passwordSource(ctx, globals, conn, machine),
    ctx.signal,
  ).catch((error) => {
    throw asCliError(error, machine.hostname);
  });
  const onInterrupt = () => session.close();
  ctx.signal.addEventListener("abort", onInterrupt, { once: true });
  try {
    return await use(session);
  } finally {
    ctx.signal.removeEventListener("abort", onInterrupt);
  }
}

/** The agent's word on a copy: nothing (it hung up) or a failure is the copy's failure. */
function confirmed(exit: Exit | undefined, hostname: string): asserts exit is Exit {
  if (!exit) {
    throw new CliError(`"${hostname}" hung up before the copy was confirmed`, { exitCode: 3 });
  }
  if (exit.code !== 0) throw remoteError(exit, hostname);
}

/** Reads frames until the exit frame (or the end of the stream: undefined). */
async function untilExit(session: OpenedSession): Promise<Exit | undefined> {
  for (;;) {
    const next = await session.frames.next();
    if (next.done) return undefined;
    const msg = next.value.msg;
    if (msg.case === "output") session.consumed(msg.value.data.length);
    else if (msg.case === "exit") {
      // Ends the frames: a write waiting for credit the agent will no longer give returns.
      await session.frames.return?.(undefined);
      return msg.value;
    }
  }
}

/** An error the agent reported (it names the path). */
function remoteError(exit: Exit, hostname: string): CliError {
  const message = exit.error || `the copy failed on "${hostname}" (exit ${exit.code})`;
  return new CliError(message, { hint: hintFor(message, `on "${hostname}"`) });
}

/** A copy error as the CLI reports it; other errors (auth, offline) keep their own codes. */
function asCliError(error: unknown, hostname?: string): unknown {
  if (error instanceof CliError && hostname && error.exitCode === 1 && !error.hint) {
    return new CliError(error.message, { hint: hintFor(error.message, `on "${hostname}"`) });
  }
  if (error instanceof FileCopyError) {
    return new CliError(error.message, { hint: hintFor(error.message, "here") });
  }
  if (error instanceof ArchiveError) {
    return new CliError(`the copy stream is malformed: ${error.message}`, {
      hint: "the other side sent something cmdop does not accept; nothing was kept",
    });
  }
  return error;
}

function hintFor(message: string, where: string): string | undefined {
  if (/is a directory \(use -r\)/.test(message)) return "add -r to copy a directory";
  if (/no such file or directory/.test(message)) {
    return `check the path ${where}; a relative remote path starts in the agent's home folder`;
  }
  if (/no such directory/.test(message)) return `create the directory ${where} first`;
  if (/permission denied/.test(message)) return `check the permissions ${where}`;
  if (/no space left|quota/.test(message)) return `free some space ${where}`;
  if (/stdin|stdout/.test(message)) return "name a file for stdin and stdout copies";
  return undefined;
}

/** stdin as a byte source (one file of unknown size). */
function streamReader(stdin: CliContext["stdin"]): ByteSource {
  const reader = stdin.readable.getReader();
  let rest: Uint8Array = new Uint8Array(0);
  return {
    async read(buffer) {
      if (rest.length === 0) {
        const next = await reader.read();
        if (next.done) return null;
        rest = next.value;
      }
      const n = Math.min(buffer.length, rest.length);
      buffer.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
  };
}
