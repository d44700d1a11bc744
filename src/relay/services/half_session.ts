/** Half-duplex sessions: a session's output as a server stream and its input as unary calls, for paths that carry no full-duplex stream. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type OpenSession,
  type SendInputRequest,
  type SendInputResponse,
  SendInputResponseSchema,
  type SessionInput,
  SessionInputSchema,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../lib/async_queue.ts";
import { DEFAULT_KEEPALIVE_MS } from "../../lib/keepalive.ts";
import {
  constantTimeEqual,
  hashSecret,
  isUuidShaped,
  newId,
  newSecret,
} from "../../lib/secrets.ts";
import {
  type AccessTokenResolver,
  authenticateClient,
  bearerToken,
  type ClientPrincipal,
} from "../auth.ts";
import type { InputDelivery, InputReply } from "../bus/bus.ts";
import type { RelayDeps } from "../deps.ts";
import { MAX_UNARY_MESSAGE_BYTES } from "../limits.ts";

/** Input bytes one half-duplex session may have waiting on the relay (the agent's window is smaller). */
export const MAX_QUEUED_INPUT_BYTES = 2 * 1024 * 1024;
/** Frames one half-duplex session may have waiting, whatever their size. */
export const MAX_QUEUED_INPUT_FRAMES = 4096;

/** The session logic proper (session_service.ts), run on the frames this adapter queues. */
export type RunSession = (
  principal: ClientPrincipal,
  inputs: AsyncIterator<SessionInput>,
  sessionId: string,
) => AsyncGenerator<SessionOutput>;

/**
 * The half-duplex adapter of the session service: `open` runs a session whose
 * client frames come from an input queue, and `send` fills that queue from
 * SendInput calls, on whichever node they land (the bus routes them). A call
 * is taken only with the session's input token and the credential that opened
 * it, so a session id on its own reaches nothing.
 *
 * @example
 * ```ts
 * const half = new HalfSessions(deps, resolveAccessToken);
 * router.service(SessionService, {
 *   halfSession: (open, ctx) => half.open(open, ctx, run),
 *   sendInput: (request, ctx) => half.send(request, ctx),
 * });
 * ```
 */
export class HalfSessions {
  #deps: RelayDeps;
  #resolve?: AccessTokenResolver;

  constructor(deps: RelayDeps, resolveAccessToken?: AccessTokenResolver) {
    this.#deps = deps;
    this.#resolve = resolveAccessToken;
  }

  async *open(
    open: OpenSession,
    ctx: HandlerContext,
    run: RunSession,
  ): AsyncGenerator<SessionOutput> {
    const principal = await authenticateClient(this.#deps, ctx.requestHeader, this.#resolve);
    const binding = await bindingOf(principal, ctx.requestHeader);
    const sessionId = newId();
    const inputToken = newSecret("cmi");
    const queue = new InputQueue(binding, inputToken);
    // The output stream gone is the client gone: a session waiting on input (a password) ends too.
    const onAbort = () => queue.fail(new ConnectError("the client went away", Code.Canceled));
    ctx.signal.addEventListener("abort", onAbort);
    const release = await this.#deps.bus.holdInputs(sessionId, (d) => queue.deliver(d));
    try {
      yield create(SessionOutputSchema, {
        msg: {
          case: "halfDuplex",
          value: { sessionId, inputToken, maxInputBytes: MAX_UNARY_MESSAGE_BYTES },
        },
      });
      // Input calls are its only sign of life: a client that pings not at all is held to the
      // relay's interval, so a session abandoned by its client still ends.
      const keepaliveMs = open.keepaliveMs || this.#deps.keepaliveMs || DEFAULT_KEEPALIVE_MS;
      queue.unshift(
        create(SessionInputSchema, { msg: { case: "open", value: { ...open, keepaliveMs } } }),
      );
      for await (const frame of run(principal, queue, sessionId)) {
        // Nothing is to come from the client after the exit: the session need not wait for it.
        if (frame.msg.case === "exit") queue.close();
        yield frame;
      }
    } finally {
      release();
      queue.close();
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }

  async send(request: SendInputRequest, ctx: HandlerContext): Promise<SendInputResponse> {
    const principal = await authenticateClient(this.#deps, ctx.requestHeader, this.#resolve);
    if (!isUuidShaped(request.sessionId)) {
      throw new ConnectError("session_id is not a session id", Code.InvalidArgument);
    }
    const reply = await this.#deps.bus.sendInputs(request.sessionId, {
      binding: await bindingOf(principal, ctx.requestHeader),
      inputToken: request.inputToken,
      frames: request.frames,
    });
    if (!reply.ok) throw new ConnectError(reply.message, CODES[reply.code]);
    return create(SendInputResponseSchema);
  }
}

const CODES: Record<Exclude<InputReply, { ok: true }>["code"], Code> = {
  not_found: Code.NotFound,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

/**
 * What a session is bound to: the API key itself (by its hash), the share link, the
 * calling machine, or the user of a login token (whose token is refreshed during a long session).
 */
async function bindingOf(principal: ClientPrincipal, header: Headers): Promise<string> {
  if (principal.kind === "share") return `share:${principal.shareId}`;
  if (principal.kind === "machine") return `machine:${principal.machineId}`;
  if (principal.via === "login_token") {
    return `user:${principal.workspaceId}:${principal.userId ?? ""}`;
  }
  return `api_key:${await hashSecret(bearerToken(header))}`;
}

/** Bytes a queued frame stands for: its payload, and a little for the frame itself. */
function frameBytes(frame: SessionInput): number {
  return 32 + (frame.msg.case === "data" ? frame.msg.value.length : 0);
}

/** A half-duplex session's client frames, as the session reads them; bounded. */
class InputQueue implements AsyncIterator<SessionInput> {
  #queue = new AsyncQueue<SessionInput>();
  #first: SessionInput[] = [];
  #bytes = 0;
  #binding: string;
  #token: string;

  constructor(binding: string, token: string) {
    this.#binding = binding;
    this.#token = token;
  }

  /** Takes one input call's frames, all or none. */
  deliver(delivery: InputDelivery): InputReply {
    // Both compared whatever the first says, so that timing tells nothing.
    const sameCaller = constantTimeEqual(delivery.binding, this.#binding);
    const sameToken = constantTimeEqual(delivery.inputToken, this.#token);
    if (!sameCaller || !sameToken) {
      return {
        ok: false,
        code: "permission_denied",
        message: sameCaller
          ? "the input token does not match the session's"
          : "the session was opened with another credential",
      };
    }
    if (this.#queue.closed) {
      return { ok: false, code: "not_found", message: "the session has ended" };
    }
    const bytes = delivery.frames.reduce((n, f) => n + frameBytes(f), 0);
    if (
      this.#bytes + bytes > MAX_QUEUED_INPUT_BYTES ||
      this.#queue.size + delivery.frames.length > MAX_QUEUED_INPUT_FRAMES
    ) {
      return {
        ok: false,
        code: "resource_exhausted",
        message: `the session has too much input waiting (at most ${MAX_QUEUED_INPUT_BYTES} bytes)`,
      };
    }
    this.#bytes += bytes;
    for (const frame of delivery.frames) this.#queue.push(frame);
    return { ok: true };
  }

  /** Puts a frame before everything queued (the open frame). */
  unshift(frame: SessionInput): void {
    this.#first.unshift(frame);
  }

  async next(): Promise<IteratorResult<SessionInput>> {
    const first = this.#first.shift();
    if (first) return { done: false, value: first };
    const next = await this.#queue.next();
    if (!next.done) this.#bytes -= frameBytes(next.value);
    return next;
  }

  close(): void {
    this.#queue.close();
  }

  fail(error: unknown): void {
    this.#queue.fail(error);
  }
}
