/** The relay's two byte-heavy streams served on raw envelopes: the agent's Dial and the client's Session, its output forwarded as the agent encoded it. */
import { Code, ConnectError } from "@connectrpc/connect";
import type { SessionInput } from "../../gen/cmdop/v1/session_pb.ts";
import {
  decodeSessionInput,
  encodeSessionInput,
  encodeSessionOutput,
} from "../protocol/lean/cmdop/v1/session_lean.ts";
import { AsyncQueue } from "../lib/async_queue.ts";
import { authenticateAgent } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";
import type { SessionCalls } from "./services/session_service.ts";
import type { BidiCall } from "./wire/bidi_stream.ts";
import { ENCODED, ENVELOPE_HEAD, readDialFrame, type SplicedOutput } from "./wire/dial_frame.ts";

/** The request path of the agent's dial-back stream. */
export const DIAL_PATH = "/cmdop.v1.AgentService/Dial";
/** The request path of a client's full-duplex session. */
export const SESSION_PATH = "/cmdop.v1.SessionService/Session";

/**
 * The agent's dial-back stream: the first frame names the session, which the bus hands the
 * stream to; every later frame's output goes to it read by its tags (wire/dial_frame.ts),
 * carrying its bytes. What the session sends the agent is encoded by the lean codec.
 *
 * @example
 * ```ts
 * return serveBidi(request, header, MAX_STREAM_MESSAGE_BYTES, (inputs, call) => dialStream(deps, inputs, call));
 * ```
 */
export async function* dialStream(
  deps: RelayDeps,
  inputs: AsyncIterator<Uint8Array>,
  call: BidiCall,
): AsyncGenerator<Uint8Array> {
  const machine = await authenticateAgent(deps, call.requestHeader);
  const first = await inputs.next();
  const sessionId = first.done ? undefined : readFrame(first.value).sessionId;
  if (!sessionId) {
    throw new ConnectError("first dial frame must name the session", Code.InvalidArgument);
  }
  const toAgent = new AsyncQueue<SessionInput>();
  const accepted = deps.bus.acceptDial(machine.id, sessionId, {
    frames: agentOutputs(inputs),
    send: (input) => toAgent.push(input),
    end: () => toAgent.close(),
  });
  if (!accepted) throw new ConnectError(`no session "${sessionId}" waits`, Code.NotFound);
  const onAbort = () => toAgent.close();
  call.signal.addEventListener("abort", onAbort);
  try {
    for await (const input of toAgent) yield encodeSessionInput(input, ENVELOPE_HEAD);
  } finally {
    call.signal.removeEventListener("abort", onAbort);
  }
}

async function* agentOutputs(inputs: AsyncIterator<Uint8Array>): AsyncGenerator<SplicedOutput> {
  for (;;) {
    const next = await inputs.next();
    if (next.done) return;
    const { output } = readFrame(next.value);
    if (output) yield output;
  }
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
 * A client's session: its frames decoded by the lean codec, the session's frames sent as the
 * agent encoded them when they carry their bytes, encoded by the lean codec otherwise.
 *
 * @example
 * ```ts
 * return serveBidi(request, header, MAX_STREAM_MESSAGE_BYTES, (inputs, call) => sessionStream(calls, inputs, call));
 * ```
 */
export async function* sessionStream(
  calls: SessionCalls,
  inputs: AsyncIterator<Uint8Array>,
  call: BidiCall,
): AsyncGenerator<Uint8Array> {
  for await (const frame of calls.session(clientInputs(inputs), call)) {
    yield (frame as SplicedOutput)[ENCODED] ?? encodeSessionOutput(frame, ENVELOPE_HEAD);
  }
}

async function* clientInputs(inputs: AsyncIterator<Uint8Array>): AsyncGenerator<SessionInput> {
  for (;;) {
    const next = await inputs.next();
    if (next.done) return;
    let input: SessionInput;
    try {
      input = decodeSessionInput(next.value);
    } catch (error) {
      throw new ConnectError(`parse binary: ${(error as Error).message}`, Code.InvalidArgument);
    }
    yield input;
  }
}
