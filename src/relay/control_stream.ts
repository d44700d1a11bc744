/** Serves AgentService.Control over the binary Connect protocol without the generic handler pipeline: the relay holds one per agent. */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { AgentCommandSchema, AgentHelloSchema } from "../../gen/cmdop/v1/agent_pb.ts";
import {
  BodyTooLargeError,
  connectErrorResponse,
  isBodyTimeout,
  readBodyCapped,
} from "./admission.ts";
import type { RelayDeps } from "./deps.ts";
import { agentControl } from "./services/agent_service.ts";

/** The request path of the agent's control stream. */
export const CONTROL_PATH = "/cmdop.v1.AgentService/Control";

const encoder = new TextEncoder();
/** An AgentHello is a handful of short strings; anything larger is refused unread. */
const MAX_HELLO_BYTES = 64 * 1024;

/**
 * Answers the control stream, handing to `fallback` (the Connect router) any
 * request it does not take (JSON, compression, a deadline, a malformed body:
 * the router's answers stay the only ones). Connect's handler keeps a
 * chain of transforming generators per open stream, ~40 KB of heap: with ten
 * thousand idle agents that alone was 400 MB. This one keeps the service's
 * generator and a ReadableStream, and writes the same frames: one envelope per
 * command, then the end-of-stream message.
 *
 * `onEnd` hears once how a stream it served ended (the router reports the others).
 *
 * @example
 * ```ts
 * return await serveControl(deps, request, (req) => routerHandler(req));
 * ```
 */
export async function serveControl(
  deps: RelayDeps,
  request: Request,
  fallback: (request: Request) => Promise<Response>,
  onEnd: (error?: unknown) => void = () => {},
): Promise<Response> {
  const h = request.headers;
  if (
    request.method !== "POST" || h.get("content-type") !== "application/connect+proto" ||
    h.has("connect-content-encoding") || h.has("connect-timeout-ms")
  ) return await fallback(request);
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = await readBodyCapped(request, MAX_HELLO_BYTES);
  } catch (error) {
    if (isBodyTimeout(error)) {
      return connectErrorResponse(error, h.get("content-type"));
    }
    if (!(error instanceof BodyTooLargeError)) throw error;
    const refused = new ConnectError(
      `the agent's hello is larger than ${MAX_HELLO_BYTES} bytes`,
      Code.ResourceExhausted,
    );
    return connectErrorResponse(refused, h.get("content-type"));
  }
  const hello = parseSingleEnvelope(body);
  if (!hello) {
    const { method, headers, signal } = request;
    return await fallback(new Request(request.url, { method, headers, signal, body }));
  }
  const call = new AbortController();
  const onGone = () => call.abort(request.signal.reason);
  request.signal.addEventListener("abort", onGone, { once: true });
  const commands = agentControl(deps, hello, { requestHeader: h, signal: call.signal });
  let failure: unknown;
  let reported = false;
  const finish = () => {
    request.signal.removeEventListener("abort", onGone);
    call.abort();
    if (!reported) {
      reported = true;
      onEnd(failure);
    }
  };
  // Like Connect's handler, answer once the first frame (or the error) is known.
  let first: Uint8Array | undefined;
  let ended = false;
  try {
    const next = await commands.next();
    ended = next.done === true;
    first = ended ? endOfStream() : envelope(0, toBinary(AgentCommandSchema, next.value!));
  } catch (error) {
    ended = true;
    failure = error;
    first = endOfStream(error);
  }
  if (ended) finish();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first) {
        controller.enqueue(first);
        first = undefined;
        if (ended) controller.close();
        return;
      }
      try {
        const next = await commands.next();
        if (!next.done) {
          controller.enqueue(envelope(0, toBinary(AgentCommandSchema, next.value)));
          return;
        }
        controller.enqueue(endOfStream());
      } catch (error) {
        failure = error;
        controller.enqueue(endOfStream(error));
      }
      finish();
      controller.close();
    },
    async cancel() {
      finish();
      await commands.return(undefined).catch(() => {});
    },
  });
  return new Response(stream, { headers: { "content-type": "application/connect+proto" } });
}

/** The one message of a server-streaming request body; `undefined` when it is anything else. */
function parseSingleEnvelope(body: Uint8Array) {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = new DataView(body.buffer, body.byteOffset).getUint32(1);
  if (length !== body.length - 5) return undefined;
  try {
    return fromBinary(AgentHelloSchema, body.subarray(5));
  } catch {
    return undefined;
  }
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** The end-of-stream message, with the error as Connect's handler would report it. */
function endOfStream(error?: unknown): Uint8Array {
  const reported = error === undefined || error instanceof ConnectError
    ? error
    : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
  const json = endStreamToJson(new Headers(), reported as ConnectError | undefined, undefined);
  return envelope(endStreamFlag, encoder.encode(JSON.stringify(json)));
}
