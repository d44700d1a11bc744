/** creditedFrames: a program's output in frames within its credit, larger while it is producing faster than it is sent. */
import type { CreditGate } from "../lib/credit.ts";
import { FRAME_LIMIT, OutputReader } from "./output_reader.ts";

/** Frames grow up to this many bytes (see `output_reader.ts`). */
export const COALESCE_LIMIT = FRAME_LIMIT;

/**
 * Yields the stream's output in frames with their credit taken from `gate`
 * ({@linkcode OutputReader}: read into the frame's buffer, with room in front for its header,
 * reads already waiting joined up to `limit` bytes). A pipe read returns at most 64 KiB, and
 * every frame costs a message, an envelope and a few stream steps in agent, relay and client
 * alike: 1 GB as ~30,000 frames kept all three busy. A small read (interactive output) is
 * passed on at once. Only the first read of a frame may overshoot the window, as before; what
 * is joined to it must fit the credit left (the cluster's bridges hang up on a peer that
 * overshoots by more). Ends when the stream does or the gate closes.
 *
 * @example
 * ```ts
 * for await (const frame of creditedFrames(child.stdout, gate)) send(outputData(STDOUT, frame));
 * ```
 */
export async function* creditedFrames(
  stream: ReadableStream<Uint8Array>,
  gate: CreditGate,
  limit = COALESCE_LIMIT,
): AsyncGenerator<Uint8Array> {
  const reader = new OutputReader(stream, limit);
  const admit = {
    first: (bytes: number) => gate.take(bytes),
    join: (bytes: number) => gate.tryTake(bytes),
  };
  try {
    for (let frame = await reader.next(admit); frame; frame = await reader.next(admit)) {
      yield frame;
    }
  } finally {
    // Stopped early (the gate closed, the session ended): the pipe is not read further.
    reader.cancel();
  }
}
