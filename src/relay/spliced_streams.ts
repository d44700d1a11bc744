/** The relay's two byte-heavy streams served on raw envelopes: the agent's Dial and the client's Session, its output forwarded as the agent encoded it. */
import { Code, ConnectError } from "@connectrpc/connect";
import type { SessionInput } from "../../gen/cmdop/v1/session_pb.ts";
import { encodeSessionInput, encodeSessionOutput } from "../protocol/lean/cmdop/v1/session_lean.ts";
import { mapAsync, SKIP } from "../lib/map_async.ts";
import { authenticateAgent } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import type { SessionCalls } from "./services/session_service.ts";
import type { BidiCall, BidiSink } from "./wire/bidi_stream.ts";
import { ENCODED, ENVELOPE_HEAD, readDialFrame, type SplicedOutput } from "./wire/dial_frame.ts";
import { readSessionInput, type SplicedInput } from "./wire/session_input.ts";

/** The request path of the agent's dial-back stream. */
export const DIAL_PATH = "/cmdop.v1.AgentService/Dial";
/** The request path of a client's full-duplex session. */
export const SESSION_PATH = "/cmdop.v1.SessionService/Session";

/**
 * The agent's dial-back stream: the first frame names the session, which the bus hands the
 * stream to; every later frame's output goes to it read by its tags (wire/dial_frame.ts),
 * carrying its bytes. What the session sends the agent goes into the response as it is sent:
 * a client's frame as the client encoded it (wire/session_input.ts), the relay's own encoded
 * by the lean codec.
 *
 * @example
 * ```ts
 * return serveBidiPush(request, header, MAX_STREAM_MESSAGE_BYTES, (inputs, sink, call) => dialStream(deps, inputs, sink, call));
 * ```
 */
export async function dialStream(
  deps: RelayDeps,
  inputs: AsyncIterator<Uint8Array>,
  sink: BidiSink,
  call: BidiCall,
): Promise<void> {
  const machine = await authenticateAgent(deps, call.requestHeader);
  const first = await inputs.next();
  const sessionId = first.done ? undefined : readFrame(first.value).sessionId;
  if (!sessionId) {
    throw new ConnectError("first dial frame must name the session", Code.InvalidArgument);
  }
  const ended = Promise.withResolvers<void>();
  let open = true;
  const end = () => {
    open = false;
    ended.resolve();
  };
  const accepted = deps.bus.acceptDial(machine.id, sessionId, {
    frames: agentOutputs(inputs),
    send: (input: SplicedInput) =>
      open && sink.send(input[ENCODED] ?? encodeSessionInput(input, ENVELOPE_HEAD)),
    end,
  });
  if (!accepted) throw new ConnectError(`no session "${sessionId}" waits`, Code.NotFound);
  call.signal.addEventListener("abort", end, { once: true });
  try {
    await ended.promise;
  } finally {
    call.signal.removeEventListener("abort", end);
  }
}

/** The agent's outputs, frames without one skipped; one reaction per frame, no generator. */
function agentOutputs(inputs: AsyncIterator<Uint8Array>): AsyncIterableIterator<SplicedOutput> {
  return mapAsync(inputs, (bytes) => readFrame(bytes).output ?? SKIP);
}

/** A frame that does not parse is the agent's fault, as connect-es reports one it cannot decode. */
function readFrame(bytes: Uint8Array) {
  try {
    return readDialFrame(bytes);
  } catch (error) {
    throw new ConnectError(`parse binary: ${(error as Error).message}`, Code.InvalidArgument);
  }
}

/**
 * A client's session: its frames decoded by the lean codec, each keeping its bytes to be sent on
 * to the agent unchanged (wire/session_input.ts), the session's frames sent as the
 * agent encoded them when they carry their bytes, encoded by the lean codec otherwise.
 *
 * @example
 * ```ts
 * return serveBidi(request, header, MAX_STREAM_MESSAGE_BYTES, (inputs, call) => sessionStream(calls, inputs, call));
 * ```
 */
export function sessionStream(
  calls: SessionCalls,
  inputs: AsyncIterator<Uint8Array>,
  call: BidiCall,
): AsyncIterator<Uint8Array> {
  return mapAsync(
    calls.session(mapAsync(inputs, clientInput), call),
    (frame) => (frame as SplicedOutput)[ENCODED] ?? encodeSessionOutput(frame, ENVELOPE_HEAD),
  );
}

function clientInput(bytes: Uint8Array): SessionInput {
  try {
    return readSessionInput(bytes);
  } catch (error) {
    throw new ConnectError(`parse binary: ${(error as Error).message}`, Code.InvalidArgument);
  }
}
