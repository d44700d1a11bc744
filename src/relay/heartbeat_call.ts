/** serveHeartbeat: an agent's answer to the relay's ping, served without Connect's handler pipeline. */
import { Code, ConnectError } from "@connectrpc/connect";
import { concatBytes } from "../lib/bytes.ts";
import { decodeHeartbeatRequest } from "../protocol/lean/cmdop/v1/agent_lean.ts";
import { connectErrorResponse, refuseBody } from "./admission.ts";
import { authenticateAgent } from "./auth.ts";
import type { RelayDeps } from "./deps.ts";

/** The request path of an agent's heartbeat. */
export const HEARTBEAT_PATH = "/cmdop.v1.AgentService/Heartbeat";

/** A HeartbeatRequest is one varint field: anything longer is not one. */
const MAX_HEARTBEAT_BYTES = 64;

const EMPTY = new Uint8Array(0);

/**
 * True for a heartbeat this serves: the binary Connect unary protocol without compression or
 * deadline (what `cmdop agent run` sends); anything else goes through the Connect router.
 */
export function takesHeartbeat(request: Request): boolean {
  const h = request.headers;
  return request.method === "POST" && h.get("content-type") === "application/proto" &&
    !h.has("content-encoding") && !h.has("connect-timeout-ms");
}

/**
 * Every agent answers the relay's ping on its control stream (every 10 s by default) with this
 * call. Through the Connect router each one cost the relay ~2 ms of CPU (the admission and the
 * handler each authenticated it, connect-es's unary pipeline, the observer): 1,000 idle agents
 * took 20 % of a core, and at 10,000 the relay fell behind and only 4,072 came online within
 * 300 s. Here the credential is checked once, from the headers, before the body is read; the
 * body (at most {@linkcode MAX_HEARTBEAT_BYTES}, within `bodyTimeoutMs`) is decoded by the lean
 * codec; the answer is the empty HeartbeatResponse. `recordEnd` counts the call as the router's
 * observer would.
 *
 * @example
 * ```ts
 * if (path === HEARTBEAT_PATH && takesHeartbeat(request)) return serveHeartbeat(deps, request, headers, 30_000, recordEnd);
 * ```
 */
export async function serveHeartbeat(
  deps: RelayDeps,
  request: Request,
  header: Headers,
  bodyTimeoutMs: number,
  recordEnd: (error?: unknown) => void,
): Promise<Response> {
  let machineId: string;
  try {
    machineId = (await authenticateAgent(deps, header)).id;
  } catch (error) {
    recordEnd(error);
    refuseBody(request);
    return connectErrorResponse(ConnectError.from(error), request.headers.get("content-type"));
  }
  try {
    decodeHeartbeatRequest(await smallBody(request, bodyTimeoutMs));
  } catch (error) {
    const refused = error instanceof ConnectError
      ? error
      : new ConnectError(`parse binary: ${(error as Error).message}`, Code.InvalidArgument);
    recordEnd(refused);
    return connectErrorResponse(refused, request.headers.get("content-type"));
  }
  deps.bus.heartbeat(machineId, deps.now());
  recordEnd();
  return new Response(EMPTY, { headers: { "content-type": "application/proto" } });
}

/** The whole body if it is at most MAX_HEARTBEAT_BYTES and arrives within `timeoutMs`. */
async function smallBody(request: Request, timeoutMs: number): Promise<Uint8Array> {
  if (!request.body) return EMPTY;
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConnectError(
            `the request body did not arrive within ${timeoutMs / 1000} s`,
            Code.DeadlineExceeded,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next.done) break;
      size += next.value.length;
      if (size > MAX_HEARTBEAT_BYTES) {
        throw new ConnectError(
          `a heartbeat of more than ${MAX_HEARTBEAT_BYTES} bytes`,
          Code.InvalidArgument,
        );
      }
      parts.push(next.value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return parts.length === 1 ? parts[0] : concatBytes(parts);
}
