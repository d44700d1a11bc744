/** The relay's keepalive of one session: it pings the agent, answers the client, and ends the session when either falls silent. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type SessionInput,
  SessionInputSchema,
  type SessionOutput,
  SessionOutputSchema,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../lib/async_queue.ts";
import {
  answerSilenceMs,
  Keepalive,
  MAX_KEEPALIVE_MS,
  MIN_KEEPALIVE_MS,
  pingSilenceMs,
} from "../../lib/keepalive.ts";
import type { DialedSession } from "../bus/bus.ts";

/** Options of {@linkcode SessionKeepalive}. */
export interface SessionKeepaliveOptions {
  /** How often the relay pings the agent. */
  intervalMs: number;
  /** How often the client said it pings the relay (`open.keepalive_ms`); 0: it does not. */
  clientIntervalMs: number;
  /** The machine as named in errors. */
  hostname: string;
  sessionId: string;
  dialed: DialedSession;
  /** Tells the agent to end the session (a close frame) and ends the relay's side toward it. */
  hangUp(): void;
  log(message: string): void;
}

/**
 * Keeps one session alive on both of the relay's hops. Toward the agent it
 * pings every `intervalMs` and takes any frame as an answer; when nothing
 * comes for {@linkcode answerSilenceMs} the session ends with "machine …
 * stopped answering". The client's pings are answered here, and a client
 * that said it pings and then falls silent for {@linkcode pingSilenceMs} is
 * hung up on. Either way the agent gets a close, so the remote process group ends.
 *
 * @example
 * ```ts
 * const keepalive = new SessionKeepalive({
 *   intervalMs, clientIntervalMs, hostname, sessionId, dialed, hangUp, log,
 * });
 * for await (const frame of keepalive.outputs(dialed.frames)) yield frame;
 * ```
 */
export class SessionKeepalive {
  #options: SessionKeepaliveOptions;
  /** Frames of the relay's own toward the client (answers), and the session's end. */
  #replies = new AsyncQueue<SessionOutput>(64);
  #agent: Keepalive;
  #client?: Keepalive;
  #yielding = false;

  constructor(options: SessionKeepaliveOptions) {
    this.#options = options;
    const { intervalMs, clientIntervalMs, dialed } = options;
    this.#agent = new Keepalive({
      intervalMs,
      silenceMs: answerSilenceMs(intervalMs),
      // While the client is not taking output, the agent's frames are not read either.
      paused: () => this.#yielding,
      ping: () => dialed.send(keepaliveInput(false)),
      silent: (silentFor) =>
        this.#end(
          new ConnectError(
            `machine "${options.hostname}" stopped answering (nothing heard for ${
              seconds(silentFor)
            } s)`,
            Code.Unavailable,
            { "cmdop-reason": "stopped-answering" },
          ),
        ),
    });
    if (clientIntervalMs > 0) {
      const interval = Math.min(MAX_KEEPALIVE_MS, Math.max(MIN_KEEPALIVE_MS, clientIntervalMs));
      this.#client = new Keepalive({
        intervalMs: 0,
        silenceMs: pingSilenceMs(interval),
        silent: (silentFor) =>
          this.#end(
            new ConnectError(
              `the client stopped answering (nothing heard for ${seconds(silentFor)} s)`,
              Code.DeadlineExceeded,
            ),
          ),
      });
    }
  }

  /**
   * Notes a frame from the client; true when it was a ping, answered here
   * and not to be forwarded.
   */
  fromClient(input: SessionInput): boolean {
    this.#client?.heard();
    if (input.msg.case !== "keepalive") return false;
    if (!input.msg.value.reply) {
      this.#replies.push(
        create(SessionOutputSchema, {
          msg: { case: "keepalive", value: { sentMs: input.msg.value.sentMs, reply: true } },
        }),
      );
    }
    return true;
  }

  /**
   * The agent's frames (its answers taken out) and the relay's answers to the
   * client, as one stream; it throws the keepalive's error when a side fell silent,
   * and `signal`'s reason once it is aborted (the client's access withdrawn).
   * Only one frame of the agent's is read ahead, so back-pressure still reaches it.
   */
  async *outputs(
    frames: AsyncIterable<SessionOutput>,
    signal?: AbortSignal,
  ): AsyncGenerator<SessionOutput> {
    // Not Promise.race: each race on a still-pending promise leaves a reaction on it holding
    // the race's result, so a session's whole output stayed reachable until it ended. One
    // reaction per read, and a waiting loop woken by whichever arrives: a frame costs the
    // read's own promise and this loop's resumption, nothing more.
    type Arrival = { from: "agent" | "relay"; next: IteratorResult<SessionOutput> };
    const arrived: Arrival[] = [];
    let failure: { error: unknown } | undefined;
    let wake: (() => void) | undefined;
    const woken = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const fail = (error: unknown) => {
      failure ??= { error };
      woken();
    };
    const fromAgent = (next: IteratorResult<SessionOutput>) => {
      arrived.push({ from: "agent", next });
      woken();
    };
    const fromRelay = (next: IteratorResult<SessionOutput>) => {
      arrived.push({ from: "relay", next });
      woken();
    };
    const agent = frames[Symbol.asyncIterator]();
    const replies = this.#replies[Symbol.asyncIterator]();
    const onAbort = () => fail(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    agent.next().then(fromAgent, fail);
    replies.next().then(fromRelay, fail);
    try {
      for (;;) {
        while (arrived.length === 0 && !failure) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        if (failure) throw failure.error;
        const { from, next } = arrived.shift()!;
        if (next.done) {
          if (from === "agent") return;
          continue;
        }
        if (from === "agent") {
          this.#agent.heard();
          if (next.value.msg.case === "keepalive") {
            agent.next().then(fromAgent, fail);
            continue;
          }
        }
        this.#yielding = true;
        yield next.value;
        this.#yielding = false;
        // The agent's next frame is read only once the client took this one: back-pressure holds.
        if (from === "agent") agent.next().then(fromAgent, fail);
        else replies.next().then(fromRelay, fail);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.stop();
      agent.return?.(undefined).catch(() => {});
    }
  }

  /** Forwards the open frame to the agent, telling it how often it will be pinged. */
  openFor(open: SessionInput): SessionInput {
    if (open.msg.case !== "open") return open;
    return create(SessionInputSchema, {
      msg: { case: "open", value: { ...open.msg.value, keepaliveMs: this.#options.intervalMs } },
    });
  }

  stop(): void {
    this.#agent.stop();
    this.#client?.stop();
  }

  #end(error: ConnectError): void {
    this.stop();
    this.#options.log(`session ${this.#options.sessionId}: ${error.rawMessage}; hanging up`);
    this.#replies.fail(error);
    this.#options.hangUp();
  }
}

function keepaliveInput(reply: boolean): SessionInput {
  return create(SessionInputSchema, {
    msg: { case: "keepalive", value: { sentMs: BigInt(Date.now()), reply } },
  });
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}
