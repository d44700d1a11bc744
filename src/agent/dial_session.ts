/** serveSession: the agent dials the relay back for one session, answers its keepalive pings and runs the session. */
import type { createClient } from "@connectrpc/connect";
import type { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import {
  type SessionInput,
  SessionKind,
  type SessionOutput,
} from "../../gen/cmdop/v1/session_pb.ts";
import { encodeDialFrame } from "../protocol/lean/cmdop/v1/agent_lean.ts";
import { decodeSessionInput } from "../protocol/lean/cmdop/v1/session_lean.ts";
import { AsyncQueue } from "../lib/async_queue.ts";
import { Keepalive, pingSilenceMs } from "../lib/keepalive.ts";
import { outputFrame, type SessionChannel } from "./channel.ts";
import { encodeOutputFrame } from "./output_frame.ts";
import { runExecSession } from "./exec.ts";
import { runFileFetchSession, runFileSendSession } from "./file_session.ts";
import { runForwardSession } from "./forward_session.ts";
import type { ProcessTracker } from "./process_tracker.ts";
import type { PtySessionEnvironment } from "./pty_session.ts";
import type { HeldSessions } from "./held_sessions.ts";

/** The agent's Connect client of one relay. */
export type AgentClient = ReturnType<typeof createClient<typeof AgentService>>;

/**
 * Calls `AgentService/Dial`: `framed` are encoded `DialFrame`s with 5 spare bytes in front
 * (for the envelope header), the answer is the relay's encoded `SessionInput`s. The agent
 * speaks it through `connect_lite.ts` and the generated lean codecs, not connect-es: with
 * protobuf-es and Connect's pipeline, encoding took ~30 % of the agent's CPU through 1 GB of
 * exec output (every byte copied four times: `toBinary`'s buffer, its `finish`, the envelope).
 */
export type DialStream = (
  framed: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
) => AsyncIterable<Uint8Array>;

/** What a session needs of the agent around it. */
export interface SessionHost {
  log(message: string): void;
  /** `agent run --no-port-forwarding`: forward sessions are refused. */
  noPortForwarding?: boolean;
  /** `agent run --no-file-copy`: `cmdop connect cp` sessions (either way) are refused. */
  noFileCopy?: boolean;
  /** Runs a terminal session; absent where pseudo-terminals are not supported. */
  runPtySession?: (channel: SessionChannel, environment: PtySessionEnvironment) => Promise<void>;
  /** Terminals and commands kept for their clients to resume; without it none is kept. */
  held?: HeldSessions;
}

/**
 * Frames waiting for a session that is busy (a child not reading its stdin). Input is
 * credited, so a relay keeping to its window never comes near this.
 */
const MAX_PENDING_INPUTS = 65_536;

/**
 * Dials the relay back for `sessionId` and runs the session it opens (or
 * answers `refusal` as its exit error: the agent is at its session cap). The
 * relay's frames are read as they come, whatever the session is doing, so
 * its keepalive pings are answered at once; when the relay says it pings
 * (`open.keepalive_ms`) and then falls silent for longer than
 * {@linkcode pingSilenceMs}, the stream is dropped and the session hangs up.
 *
 * @example
 * ```ts
 * serveSession(dial, command.msg.value.sessionId, options, tracker).catch(logIt);
 * ```
 */
export async function serveSession(
  dial: DialStream,
  sessionId: string,
  options: SessionHost,
  tracker: ProcessTracker,
  refusal?: string,
): Promise<void> {
  const outbound = new AsyncQueue<Uint8Array>();
  outbound.push(encodeDialFrame({ sessionId }, 5));
  const abort = new AbortController();
  const frames = decoded(dial(outbound, abort.signal));
  // Only the first frame names the session (the relay reads it there): later ones carry output,
  // framed in place when it was read with room in front (output_frame.ts).
  const send = (output: SessionOutput) => outbound.push(encodeOutputFrame(output));
  let keepalive: Keepalive | undefined;
  let relayDone: Promise<void> | undefined;
  try {
    const first = await frames.next();
    if (first.done || first.value.msg.case !== "open") return;
    const open = first.value.msg.value;
    if (open.keepaliveMs > 0) {
      keepalive = new Keepalive({
        intervalMs: 0,
        silenceMs: pingSilenceMs(open.keepaliveMs),
        silent: (silentFor) => {
          options.log(
            `session ${sessionId}: the relay stopped pinging (${
              Math.round(silentFor / 1000)
            } s); ` +
              "hanging up",
          );
          abort.abort();
        },
      });
    }
    const inputs = readAhead(frames, send, keepalive);
    relayDone = inputs.done;
    const channel: SessionChannel = { open, inputs: inputs.queue, send };
    // A resume takes a kept session back: it counts against the limit already.
    if (open.resume && (open.kind === SessionKind.PTY || open.kind === SessionKind.EXEC)) {
      refusal = undefined;
    }
    refusal ??= turnedOff(open.kind, options);
    if (refusal) {
      options.log(`session ${sessionId} refused: ${refusal}`);
      channel.send(outputFrame({ case: "exit", value: { code: 1, error: refusal } }));
    } else if (open.kind === SessionKind.PTY) {
      if (!options.runPtySession) {
        channel.send(outputFrame({
          case: "exit",
          value: { code: 1, error: `terminal sessions are not supported on ${Deno.build.os}` },
        }));
      } else {
        await options.runPtySession(channel, {
          env: Deno.env.toObject(),
          log: options.log,
          tracker,
          held: options.held,
        });
      }
    } else if (open.kind === SessionKind.EXEC) {
      await runExecSession(channel, {
        env: Deno.env.toObject(),
        cwd: Deno.env.get("HOME"),
        log: options.log,
        tracker,
        held: options.held,
      });
    } else if (open.kind === SessionKind.FILE_SEND) {
      await runFileSendSession(channel, { home: Deno.env.get("HOME"), log: options.log });
    } else if (open.kind === SessionKind.FILE_FETCH) {
      await runFileFetchSession(channel, { home: Deno.env.get("HOME"), log: options.log });
    } else if (open.kind === SessionKind.FORWARD) {
      await runForwardSession(channel, { log: options.log });
    } else {
      channel.send(outputFrame({
        case: "exit",
        value: {
          code: 1,
          error: `this agent does not know session kind ${open.kind}: upgrade the agent`,
        },
      }));
    }
  } finally {
    outbound.close();
    if (keepalive && relayDone) {
      // The relay ends its side once it has read the exit frame, which on a slow link can be
      // long after the command ended; while it keeps pinging it is still reading.
      relayDone.finally(() => {
        keepalive!.stop();
        abort.abort();
      });
    } else {
      // A relay that does not ping: give it a while to read the last frames.
      Deno.unrefTimer(setTimeout(() => abort.abort(), 10_000));
    }
  }
}

async function* decoded(answers: AsyncIterable<Uint8Array>): AsyncGenerator<SessionInput> {
  for await (const bytes of answers) yield decodeSessionInput(bytes);
}

/**
 * The relay's frames after the open, read eagerly: pings are answered here and never reach
 * the session. `done` settles when the relay's side has ended (or failed, or was dropped).
 */
function readAhead(
  frames: AsyncIterator<SessionInput>,
  send: (output: SessionOutput) => boolean,
  keepalive: Keepalive | undefined,
): { queue: AsyncQueue<SessionInput>; done: Promise<void> } {
  const inputs = new AsyncQueue<SessionInput>(MAX_PENDING_INPUTS);
  const done = (async () => {
    for (;;) {
      const next = await frames.next();
      if (next.done) break;
      keepalive?.heard();
      const msg = next.value.msg;
      if (msg.case === "keepalive") {
        if (!msg.value.reply) {
          send(
            outputFrame({ case: "keepalive", value: { sentMs: msg.value.sentMs, reply: true } }),
          );
        }
      } else if (!inputs.closed) inputs.push(next.value);
    }
  })().catch(() => {
    // The stream failed or was dropped: to the session that is the relay hanging up.
  }).finally(() => inputs.close());
  return { queue: inputs, done };
}

/** Why this agent refuses sessions of `kind` (its operator turned them off), or undefined. */
function turnedOff(kind: SessionKind, host: SessionHost): string | undefined {
  if (kind === SessionKind.FORWARD && host.noPortForwarding) {
    return "port forwarding is turned off on this machine (cmdop agent run --no-port-forwarding)";
  }
  if ((kind === SessionKind.FILE_SEND || kind === SessionKind.FILE_FETCH) && host.noFileCopy) {
    return "file copy is turned off on this machine (cmdop agent run --no-file-copy)";
  }
  return undefined;
}
