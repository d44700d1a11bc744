/** SessionChannel: what a running session (exec or pty) reads from and writes to. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type OpenSession,
  type SessionInput,
  type SessionOutput,
  SessionOutputSchema,
} from "../../gen/cmdop/v1/session_pb.ts";

/** The agent's end of one session's dial-back stream, after the open frame. */
export interface SessionChannel {
  open: OpenSession;
  /** Frames from the client via the relay; ends when the relay hangs up. */
  inputs: AsyncIterable<SessionInput>;
  /** Queues a frame toward the client; false once the stream is gone. */
  send(output: SessionOutput): boolean;
}

/** Input bytes an agent accepts before crediting them back. */
export const INPUT_WINDOW_BYTES = 1024 * 1024;

/** Builds an output frame. */
export function outputFrame(
  msg: MessageInitShape<typeof SessionOutputSchema>["msg"],
): SessionOutput {
  return create(SessionOutputSchema, { msg });
}

/** Exit code for a signal, as shells report it (128 + N). */
export function signalExitCode(signal: Deno.Signal | null | undefined, code: number): number {
  return signal ? code || 128 + (SIGNAL_NUMBERS[signal] ?? 0) : code;
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGPIPE: 13,
};
