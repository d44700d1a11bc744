/** openSession: a client's end of an exec or terminal session, with credit flow and the password challenge. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  Exit,
  OpenSessionSchema,
  Ready,
  SessionOutput,
} from "../../gen/cmdop/v1/session_pb.ts";
import { ConnectCode, isConnectError } from "../lib/connect_errors.ts";
import type { SessionInputInit } from "../lib/wire/session_codec.ts";
import { AsyncQueue } from "../lib/async_queue.ts";
import { CreditCounter, CreditGate, DEFAULT_WINDOW_BYTES } from "../lib/credit.ts";
import { answerSilenceMs, Keepalive } from "../lib/keepalive.ts";
import { CliError, ExitCode } from "./errors.ts";
import { halfDuplexSession } from "./half_duplex.ts";
import type { RelayConnection } from "./relay_client.ts";

/** Asks for a machine's password; undefined means none can be had (non-interactive). */
export type PasswordSource = (machineId: string) => Promise<string | undefined>;

export interface OpenedSession {
  ready: Ready;
  /** Output and exit frames; credits for them are sent by `consumed`. */
  frames: AsyncIterator<SessionOutput>;
  /** Sends input bytes within the agent's window (waits while it is full). */
  write(data: Uint8Array): Promise<void>;
  /** Signals end of input. */
  endInput(): void;
  resize(rows: number, cols: number): void;
  /** Reports output bytes as written out, returning credit to the agent. */
  consumed(bytes: number): void;
  /** Hangs up: the remote process group is ended. */
  close(): void;
  /** Tears the stream down without a goodbye. */
  abort(): void;
}

/**
 * Opens a session and waits for the agent to be ready.
 *
 * @example
 * ```ts
 * const s = await openSession(conn, { machineId, kind: SessionKind.EXEC, argv }, passwords, signal);
 * ```
 */
export async function openSession(
  conn: RelayConnection,
  open: MessageInitShape<typeof OpenSessionSchema>,
  passwordFor: PasswordSource,
  signal: AbortSignal,
  windowBytes = DEFAULT_WINDOW_BYTES,
  onInputCredit?: (bytes: number) => void,
): Promise<OpenedSession> {
  const machineId = open.machineId ?? "";
  const openFrame = (): SessionInputInit => ({
    msg: {
      case: "open",
      value: {
        ...open,
        windowBytes,
        machineToken: conn.machineTokens.get(machineId) ?? "",
        keepaliveMs: conn.keepaliveMs,
      },
    },
  });
  let call = startCall(conn, openFrame(), signal, conn.transport === "half");
  let early: IteratorResult<SessionOutput> | undefined;
  if (conn.transport === "auto") {
    const probe = await probeDuplex(call.frames);
    if (probe.carried) early = probe.first;
    else {
      call.abort.abort();
      call.release();
      // Later sessions of this run go half-duplex at once: the path will not have changed.
      conn.transport = "half";
      call = startCall(conn, openFrame(), signal, true, () => conn.note(fallbackNote(conn.server)));
    }
  }
  const { inputs, abort, frames } = call;
  const onAbort = call.release;

  let ready: Ready | undefined;
  let answered = false;
  while (!ready) {
    const pending = early ? Promise.resolve(early) : frames.next();
    early = undefined;
    const next = await pending.catch((error) => {
      throw answered ? wrongPassword(error) : error;
    });
    if (next.done) throw new CliError("the relay ended the session before it started");
    const msg = next.value.msg;
    if (msg.case === "ready") ready = msg.value;
    else if (msg.case === "challenge") {
      const password = await passwordFor(machineId);
      if (password === undefined) {
        abort.abort();
        throw new CliError("this machine requires an attach password", {
          exitCode: ExitCode.auth,
          hint: `remember one with: cmdop connect password set <host>`,
        });
      }
      answered = true;
      inputs.push({ msg: { case: "auth", value: { password } } });
    } else if (msg.case === "granted") {
      conn.machineTokens.set(machineId, msg.value.machineToken);
    } else if (msg.case === "exit") {
      // The command could not even start.
      return startedAndExited(next.value, msg.value);
    }
  }

  if (ready.recorded && !conn.recordingAnnounced) {
    // Said once per run (a fan-out opens many sessions), before a terminal goes raw.
    conn.recordingAnnounced = true;
    conn.note(
      "note: the relay records this session (its workspace records sessions; input is not recorded)",
    );
  }
  const resumable = ready.resumeToken !== "";
  const inputGate = new CreditGate(ready.windowBytes || 64 * 1024);
  const counter = new CreditCounter(Math.max(1, windowBytes >> 2));
  const send = (msg: SessionInputInit["msg"]) => inputs.push({ msg });
  // Read as frames come, whatever the caller is doing (a slow stdout), so that the relay's
  // answers are seen; the window bounds what can pile up here.
  const received = new AsyncQueue<SessionOutput>();
  const keepalive = new Keepalive({
    intervalMs: conn.keepaliveMs,
    silenceMs: answerSilenceMs(conn.keepaliveMs),
    ping: () => send({ case: "keepalive", value: { sentMs: BigInt(Date.now()) } }),
    silent: (silentFor) => {
      received.fail(relaySilent(conn.server, silentFor));
      abort.abort();
    },
  });
  (async () => {
    for (;;) {
      const next = await frames.next();
      if (next.done) break;
      keepalive.heard();
      const msg = next.value.msg;
      if (msg.case === "credit") {
        inputGate.grant(msg.value);
        onInputCredit?.(msg.value);
      } else if (msg.case !== "keepalive") received.push(next.value);
      // Nothing is sent after the exit: ending the request lets the relay end its response
      // knowing every frame before it has been read. An agent keeping the session for a
      // resume is told first that the exit arrived, so it lets the session go.
      if (msg.case === "exit") {
        keepalive.stop();
        if (resumable) send({ case: "close", value: {} });
        inputs.close();
      }
    }
    received.close();
  })().catch((error) => received.fail(error));
  async function* remaining(): AsyncGenerator<SessionOutput> {
    try {
      yield* received;
    } finally {
      keepalive.stop();
      inputGate.close();
      onAbort();
    }
  }
  return {
    ready,
    frames: remaining(),
    async write(data) {
      if (await inputGate.take(data.length)) send({ case: "data", value: data });
    },
    endInput: () => send({ case: "data", value: new Uint8Array(0) }),
    resize: (rows, cols) => send({ case: "resize", value: { rows, cols } }),
    consumed(bytes) {
      const credit = counter.consumed(bytes);
      if (credit > 0) send({ case: "credit", value: credit });
    },
    close() {
      keepalive.stop();
      send({ case: "close", value: {} });
      inputs.close();
    },
    abort: () => {
      keepalive.stop();
      abort.abort();
    },
  };
}

/** How long a full-duplex session may take to show that its path carries it (the relay's first frame). */
const DUPLEX_PROBE_MS = 5_000;

/** Refusals of a streaming request body (HTTP/1.0 paths, no chunked bodies, a proxy's 502). */
const REFUSED_STREAMING_BODY = /^HTTP (411|413|501|502|505)$/;

interface SessionCall {
  inputs: AsyncQueue<SessionInputInit>;
  abort: AbortController;
  frames: AsyncIterator<SessionOutput>;
  /** Stops following the caller's signal. */
  release(): void;
}

/** Opens the session call, full or half duplex, with the open frame queued. */
function startCall(
  conn: RelayConnection,
  open: SessionInputInit,
  signal: AbortSignal,
  half: boolean,
  onHalfDuplex?: () => void,
): SessionCall {
  // Frames as `create()` takes them: the lean clients encode them without protobuf-es.
  const inputs = new AsyncQueue<SessionInputInit>();
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  inputs.push(open);
  const options = { signal: abort.signal };
  const stream = half
    ? halfDuplexSession(conn.sessions, inputs, { ...options, onHandle: onHalfDuplex })
    : conn.sessions.session(inputs, options);
  return {
    inputs,
    abort,
    frames: stream[Symbol.asyncIterator](),
    release: () => signal.removeEventListener("abort", onAbort),
  };
}

type Probe = { carried: true; first: IteratorResult<SessionOutput> } | { carried: false };

/**
 * Waits for the full-duplex call's first frame, which the relay sends before it
 * reads anything of the request: nothing within {@linkcode DUPLEX_PROBE_MS}
 * while the request is still open, or a refusal of its streaming body, means a
 * path (a buffering proxy) that holds request bodies until they end.
 */
async function probeDuplex(frames: AsyncIterator<SessionOutput>): Promise<Probe> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const first = frames.next();
  const outcome = await Promise.race([
    first.then(
      (next): Probe => ({ carried: true, first: next }),
      (error): Probe => {
        if (isConnectError(error) && REFUSED_STREAMING_BODY.test(error.rawMessage)) {
          return { carried: false };
        }
        throw error;
      },
    ),
    new Promise<Probe>((resolve) =>
      timer = setTimeout(() => resolve({ carried: false }), DUPLEX_PROBE_MS)
    ),
  ]).finally(() => clearTimeout(timer));
  // The abandoned call rejects once aborted.
  if (!outcome.carried) first.catch(() => {});
  return outcome;
}

/** Said once, when a run falls back to half duplex. */
function fallbackNote(server: string): string {
  return `note: the path to ${server} does not carry full-duplex streams (a buffering proxy?); ` +
    "using server-streaming output with input calls";
}

/** The relay (or the network to it) went quiet: pings brought nothing back. */
function relaySilent(server: string, silentForMs: number): CliError {
  return new CliError(
    `the relay at ${server} stopped answering (nothing heard for ${
      Math.round(silentForMs / 1000)
    } s)`,
    {
      hint: "the relay or the network to it is down or frozen; the session was ended " +
        "(a frozen machine is reported by the relay instead)",
    },
  );
}

/**
 * A refused password is about the machine, not the credential: it must not be blamed
 * on the API key or login by the generic Unauthenticated report.
 */
function wrongPassword(error: unknown): unknown {
  if (!isConnectError(error) || error.code !== ConnectCode.Unauthenticated) return error;
  return new CliError(error.rawMessage, {
    exitCode: ExitCode.auth,
    hint: "check the machine's attach password; change a remembered one with: " +
      "cmdop connect password set <host>",
    cause: error,
  });
}

function startedAndExited(frame: SessionOutput, exit: Exit): OpenedSession {
  if (exit.error) throw new CliError(exit.error, { exitCode: exit.code || ExitCode.generic });
  let done = false;
  return {
    ready: {
      $typeName: "cmdop.v1.Ready",
      sessionId: "",
      windowBytes: 0,
      readOnly: false,
      recorded: false,
      resumeToken: "",
      resumeGraceMs: 0,
      inputOffset: 0n,
    },
    frames: {
      next: () => {
        if (done) return Promise.resolve({ done: true, value: undefined });
        done = true;
        return Promise.resolve({ done: false, value: frame });
      },
    },
    write: () => Promise.resolve(),
    endInput: () => {},
    resize: () => {},
    consumed: () => {},
    close: () => {},
    abort: () => {},
  };
}
