/** SessionService: splices a client's exec or terminal session onto the agent's dial-back stream. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  type SessionInput,
  SessionInputSchema,
  SessionKind,
  type SessionOutput,
  SessionOutputSchema,
  SessionService,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { CreditCap, sessionWindow } from "../../lib/credit.ts";
import { newId } from "../../lib/secrets.ts";
import { describeError, supervise } from "../../lib/supervise.ts";
import {
  authenticateClient,
  type ClientPrincipal,
  machineForPrincipal,
  ownerOf,
  principalKey,
} from "../auth.ts";
import { AgentUnreachableError, type DialedSession } from "../bus/bus.ts";
import type { RelayDeps } from "../deps.ts";
import { machineTokenValid } from "../machine_access.ts";
import { challenge } from "./session_challenge.ts";
import { watchSession } from "../access_watch.ts";
import { toMachineMessage } from "./machine_service.ts";
import { SessionKeepalive } from "./session_keepalive.ts";
import type { AccessTokenResolver } from "../auth.ts";
import { HalfSessions } from "./half_session.ts";
import { auditRefusedSession, auditSession, type SessionAudit } from "../audit/session_audit.ts";
import { TerminalWatch, type WatchedTerminal } from "./terminal_watch.ts";
import { refuseReadOnly, watchTerminal } from "./session_watch.ts";
import { offline, resumableOpen, sessionLine, validateOpen } from "./session_open.ts";
import type { SessionRecording } from "../recording/recordings.ts";

/**
 * The first frame of every Session call, sent before the client's open frame is read: a
 * client that does not get it while its request is still open is behind a path that holds
 * request bodies back (a buffering proxy), and reopens the session half-duplex.
 */
const PATH_PROBE_REPLY = create(SessionOutputSchema, {
  msg: { case: "keepalive", value: { sentMs: 0n, reply: true } },
});

/** What a session reads of its call: who is calling, and when the call ends. */
export interface SessionCall {
  requestHeader: Headers;
  signal: AbortSignal;
}

/**
 * The state a relay's session calls share, however they are served (the Connect router, or
 * `session_stream.ts` for the binary protocol): the count of open sessions and the terminals
 * read-only share links can watch.
 */
export interface SessionCalls {
  /**
   * One `Session` call: the path probe, then the session. Output frames of the agent come as
   * they arrived, carrying their encoding (`ENCODED`, wire/dial_frame.ts) to send on unchanged.
   */
  session(inputs: AsyncIterator<SessionInput>, call: SessionCall): AsyncGenerator<SessionOutput>;
  half: HalfSessions;
  run(
    principal: ClientPrincipal,
    inputs: AsyncIterator<SessionInput>,
    call: SessionCall,
    sessionId: string,
  ): AsyncGenerator<SessionOutput>;
}

/**
 * The relay's session calls.
 *
 * @example
 * ```ts
 * const calls = createSessionCalls(deps);
 * registerSessionService(router, deps, undefined, calls);
 * ```
 */
export function createSessionCalls(
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
): SessionCalls {
  // Sessions between a client and an agent right now, reported as each one ends.
  const counter = { open: 0 };
  // The terminals read-only share links can watch (their owners', on this node).
  const terminals = new TerminalWatch();
  const run: SessionCalls["run"] = (principal, inputs, call, sessionId) =>
    runSession(deps, { counter, terminals }, principal, inputs, call, sessionId);
  return {
    half: new HalfSessions(deps, resolveAccessToken),
    run,
    async *session(inputs, call) {
      const principal = await authenticateClient(deps, call.requestHeader, resolveAccessToken);
      yield PATH_PROBE_REPLY;
      yield* run(principal, inputs, call, newId());
    },
  };
}

/** Registers the client-facing session service. */
export function registerSessionService(
  router: ConnectRouter,
  deps: RelayDeps,
  resolveAccessToken?: AccessTokenResolver,
  calls = createSessionCalls(deps, resolveAccessToken),
): void {
  router.service(SessionService, {
    session: (reqs, ctx) => calls.session(reqs[Symbol.asyncIterator](), ctx),
    halfSession: (open, ctx) =>
      calls.half.open(
        open,
        ctx,
        (principal, inputs, sessionId) => calls.run(principal, inputs, ctx, sessionId),
      ),
    sendInput: (request, ctx) => calls.half.send(request, ctx),
  });
}

/**
 * One session from the client's open frame to its end: the password challenge,
 * the dial to the agent, the splice with keepalive and credit. `inputs` is the
 * client's frames (its request stream, or a half-duplex session's input queue).
 */
async function* runSession(
  deps: RelayDeps,
  { counter, terminals }: { counter: { open: number }; terminals: TerminalWatch },
  principal: ClientPrincipal,
  inputs: AsyncIterator<SessionInput>,
  ctx: SessionCall,
  sessionId: string,
): AsyncGenerator<SessionOutput> {
  const first = await inputs.next();
  if (first.done || first.value.msg.case !== "open") {
    throw new ConnectError("first session frame must be open", Code.InvalidArgument);
  }
  const open = first.value.msg.value;
  validateOpen(open);
  const machine = await machineForPrincipal(deps, principal, open.machineId);
  const refused = (reason: string) =>
    auditRefusedSession(deps, principal, machine, open, sessionId, ctx.requestHeader, reason);
  if (principal.kind === "share" && principal.readOnly) {
    try {
      refuseReadOnly(machine, open.kind);
    } catch (error) {
      refused("a read-only share link");
      throw error;
    }
    yield* watchTerminal(deps, terminals, principal, machine, open, inputs, ctx, sessionId);
    return;
  }

  let machineToken = open.machineToken;
  if (machine.passwordHash && !(await machineTokenValid(deps, machine, machineToken))) {
    const granted = yield* challenge(deps, machine, inputs, ctx, principal);
    machineToken = granted;
  }

  // Read while the agent is found and dialled: the setting adds no round trip to the start.
  const recordingOn = deps.recordings.enabledFor(machine.workspaceId, open.kind);
  const presence = (await deps.bus.presence([machine.id])).get(machine.id);
  if (!presence?.online) {
    refused("machine is offline");
    throw offline(machine);
  }
  let dialed: DialedSession;
  try {
    dialed = await deps.bus.dial(machine.id, sessionId, ctx.signal);
  } catch (error) {
    if (error instanceof AgentUnreachableError) {
      refused(`agent unreachable: ${error.message}`);
      throw offline(machine, error.message);
    }
    throw error;
  }
  deps.log(sessionLine(principal, machine, open, sessionId));
  const audit = auditSession(deps, principal, machine, open, sessionId, ctx.requestHeader);
  // Output is copied to the recording as it passes; the recording never holds it back.
  const recording = await recordingOn
    ? deps.recordings.begin(principal, machine, open, sessionId)
    : undefined;
  counter.open++;
  let ending = "the client hung up";

  // However the client goes (close frame, abort, a broken connection), the agent is told at once:
  // it ends the command's process group, even while the output waits for credit. A resumable
  // terminal or command is only let go of (its stream ends without a close frame): the agent
  // keeps it for the client to resume, unless the client's access was withdrawn.
  const resumable = resumableOpen(open);
  let hungUp = false;
  const end = (close: boolean) => {
    if (hungUp) return;
    hungUp = true;
    if (close) dialed.send(create(SessionInputSchema, { msg: { case: "close", value: {} } }));
    dialed.end();
  };
  const hangUp = () => end(!resumable);
  const withdraw = () => end(true);
  ctx.signal.addEventListener("abort", hangUp);
  if (ctx.signal.aborted) hangUp();
  // A share link revoked or expired, an API key revoked, a machine removed, a calling machine
  // no longer allowed or its target out of its reach: each ends the sessions it let in.
  const access = await watchSession(
    deps,
    principal,
    ctx.requestHeader,
    machine.id,
    `session ${sessionId}`,
  );
  access.signal.addEventListener("abort", withdraw);
  const keepalive = new SessionKeepalive({
    intervalMs: deps.keepaliveMs,
    clientIntervalMs: open.keepaliveMs,
    hostname: machine.hostname,
    sessionId,
    dialed,
    hangUp,
    log: deps.log,
  });
  const frames = keepalive.outputs(dialed.frames, access.signal);
  // The window is clamped and the client's credit metered: a client cannot make the
  // agent (or this relay) hold more than one window of its output.
  const credit = new CreditCap(sessionWindow(open.windowBytes));
  // A member's terminal can be watched through their read-only share links.
  const owner = ownerOf(principal);
  const watched = open.kind === SessionKind.PTY && owner !== undefined
    ? terminals.publish(
      { workspaceId: machine.workspaceId, machineId: machine.id, owner },
      { rows: open.rows || 24, cols: open.cols || 80 },
    )
    : undefined;
  dialed.send(keepalive.openFor(
    create(SessionInputSchema, {
      msg: {
        case: "open",
        value: {
          ...open,
          windowBytes: credit.window,
          machineToken: "",
          // Whatever the client said: only the relay knows who opened the session.
          owner: principalKey(principal),
        },
      },
    }),
  ));
  // Supervised from the moment it starts: the client's body fails the instant its connection
  // drops, usually while this handler is still waiting for the agent's next frame. Its end is a
  // hang-up too: a client keeps its request stream open for the whole session (end of input is
  // an empty data frame, and credit travels on it), and over HTTP/1.1 a connection that drops
  // mid-body can read as a body that simply ended, with no abort signal: the session, stalled
  // on credit, would otherwise wait forever with its command running.
  const forwarding = forwardInputs(inputs, dialed, keepalive, credit, audit, watched, recording);
  supervise(`session ${sessionId}: client input`, forwarding, {
    log: deps.log,
    quiet: isPeerGone,
    cleanup: hangUp,
  });
  let exited = false;
  try {
    for await (const frame of frames) {
      if (frame.msg.case === "ready") {
        yield create(SessionOutputSchema, {
          msg: {
            case: "ready",
            value: {
              ...frame.msg.value,
              sessionId,
              machine: toMachineMessage(machine, presence),
              recorded: recording !== undefined,
            },
          },
        });
        continue;
      }
      if (frame.msg.case === "challenge" || frame.msg.case === "granted") continue;
      if (frame.msg.case === "output") {
        credit.delivered(frame.msg.value.data.length);
        audit.bytesOut += frame.msg.value.data.length;
        watched?.output(frame.msg.value.data);
        recording?.output(frame.msg.value.stream, frame.msg.value.data);
      }
      yield frame;
      if (frame.msg.case === "exit") {
        audit.exit = frame.msg.value;
        watched?.end(frame.msg.value);
        recording?.exit(frame.msg.value.code);
        exited = true;
        ending = "the command exited";
        break;
      }
    }
    // The response ends only once the client has ended its request (it does on reading
    // the exit frame, or by closing its connection), within a bound. Ending it earlier
    // leaves the client's unread request bytes on the socket: the close then resets the
    // connection, and a forward proxy (squid, tinyproxy) drops the output it still held
    // for the client — 1-2 MB of a 20 MB exec in 4 runs of 10 here.
    if (exited) await settledWithin(forwarding, CLIENT_END_LINGER_MS);
    if (!exited && !ctx.signal.aborted && !hungUp) ending = "the agent's stream ended";
  } catch (error) {
    ending = access.signal.aborted
      ? (access.signal.reason as ConnectError).rawMessage
      : ctx.signal.aborted || hungUp
      ? "the client went away"
      : `failed: ${describeError(error)}`;
    throw error;
  } finally {
    keepalive.stop();
    watched?.end();
    ctx.signal.removeEventListener("abort", hangUp);
    access.stop();
    if (!exited) hangUp();
    dialed.end();
    counter.open--;
    deps.log(`session ${sessionId}: ended, ${ending}; ${counter.open} open`);
    audit.end(ending);
    recording?.end();
  }
  if (!exited && !ctx.signal.aborted) {
    throw new ConnectError(
      `connection to machine "${machine.hostname}" was lost`,
      Code.Aborted,
    );
  }
}

/** A client whose connection dropped: its request body ends in one of these. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted ||
    (error instanceof Error && error.name === "AbortError");
}

/**
 * Client frames go straight through (but its pings, answered by the relay, and
 * credit beyond what it was sent), as the bytes the client encoded when it
 * spoke binary Connect (wire/session_input.ts); flow control is end to end, so
 * nothing piles up here.
 */
async function forwardInputs(
  inputs: AsyncIterator<SessionInput>,
  dialed: DialedSession,
  keepalive: SessionKeepalive,
  credit: CreditCap,
  audit: SessionAudit,
  watched: WatchedTerminal | undefined,
  recording: SessionRecording | undefined,
): Promise<void> {
  for (;;) {
    const next = await inputs.next();
    if (next.done) return;
    if (keepalive.fromClient(next.value)) continue;
    const msg = next.value.msg;
    if (msg.case === "open" || msg.case === "auth" || msg.case === undefined) continue;
    if (msg.case === "credit") {
      const passed = credit.pass(msg.value);
      if (passed === 0) continue;
      if (passed !== msg.value) {
        // A new frame: the client's own bytes (sent on when unchanged) say the larger credit.
        dialed.send(create(SessionInputSchema, { msg: { case: "credit", value: passed } }));
        continue;
      }
    }
    if (msg.case === "data") audit.bytesIn += msg.value.length;
    if (msg.case === "resize") watched?.resize(msg.value.rows, msg.value.cols);
    if (msg.case === "resize") recording?.resize(msg.value.cols, msg.value.rows);
    // Once the agent's side is gone the client's frames are read and dropped to the end of its
    // request, which the session waits for before it ends its response.
    dialed.send(next.value);
  }
}

/** How long a session whose command exited waits for its client to end its request. */
const CLIENT_END_LINGER_MS = 15_000;

/** Resolves when `task` settles or after `ms`, whichever is first; never rejects. */
async function settledWithin(task: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    task.then(() => {}, () => {}),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}
