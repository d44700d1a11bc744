/** Session bridges: one session's frames between the node holding the agent's dial-back and the node holding the client. */
import type { NatsConnection } from "@nats-io/transport-node";
import { create } from "@bufbuild/protobuf";
import {
  type SessionInput,
  SessionInputSchema,
  type SessionOutput,
} from "../../../gen/cmdop/v1/session_pb.ts";
import { DEFAULT_WINDOW_BYTES } from "../../lib/credit.ts";
import type { DialedSession } from "../bus/bus.ts";
import {
  CreditMeter,
  decodeInput,
  decodeOutput,
  encodeInputs,
  encodeOutputs,
  END_OF_STREAM,
  FrameQueue,
} from "./bridge_frames.ts";
import type { NodeWatch } from "./node_watch.ts";
import { resumableOpen } from "../services/session_open.ts";
import { Subjects } from "./subjects.ts";

/** What both halves of a bridge need. */
export interface BridgeContext {
  nc: NatsConnection;
  watch: NodeWatch;
  instanceId: string;
  /** Largest output window a bridged session may have; larger ones are clamped to it. */
  maxWindowBytes: number;
  claimTimeoutMs: number;
  log(message: string): void;
}

/** What a node that got an agent's dial-back sends to the node whose client waits. */
export interface ClaimRequest {
  machineId: string;
  instance: string;
}

/** The waiting node's answer. */
export interface ClaimReply {
  ok: boolean;
  instance?: string;
  reason?: string;
}

/** Room for one read per output stream beyond the window, and for control frames. */
const SLACK_BYTES = 256 * 1024;
/** Input window an agent grants before it says otherwise in its ready frame. */
const DEFAULT_INPUT_WINDOW_BYTES = 1024 * 1024;

const hangUpFrame = () => create(SessionInputSchema, { msg: { case: "close", value: {} } });

/**
 * The client's half, on the node where the client's session waits. Subscribes
 * before the claim is answered, so no frame can arrive unheard. The client's
 * window passes through unchanged up to `ctx.maxWindowBytes` (shrinking it
 * further could stall a client that batches its credit), credits are clamped to
 * bytes actually delivered, and an agent sending beyond the window is hung up:
 * this node buffers at most one window per session whatever either end does.
 *
 * @example
 * ```ts
 * const session = openClientHalf(ctx, sessionId, claim.instance); // then answer the claim
 * ```
 */
export function openClientHalf(
  ctx: BridgeContext,
  sessionId: string,
  peerInstance: string,
): DialedSession {
  const queue = new FrameQueue<SessionOutput>();
  const meter = new CreditMeter(Math.min(DEFAULT_WINDOW_BYTES, ctx.maxWindowBytes), SLACK_BYTES);
  const inSubject = Subjects.sessionIn(sessionId);
  let delivered = 0;
  let credited = 0;
  let ended = false;

  const publish = (input: SessionInput): boolean => {
    try {
      for (const bytes of encodeInputs(input)) ctx.nc.publish(inSubject, bytes);
      return true;
    } catch (error) {
      finish(`cannot forward to the agent's node: ${(error as Error).message}`);
      return false;
    }
  };
  const finish = (problem?: string, drop = false) => {
    if (problem) ctx.log(`session ${sessionId}: ${problem}`);
    queue.close(drop);
    sub.unsubscribe();
    unwatch();
  };
  const sub = ctx.nc.subscribe(Subjects.sessionOut(sessionId), {
    callback: (error, msg) => {
      if (error) return finish(`bridge subscription failed: ${error.message}`);
      if (msg.data.length === 0) return finish();
      let frame: SessionOutput;
      try {
        frame = decodeOutput(msg.data);
      } catch {
        return finish("the agent's node sent a frame that does not decode", true);
      }
      if (frame.msg.case === "output" && !meter.sent(frame.msg.value.data.length)) {
        publish(hangUpFrame());
        return finish(
          `the agent overran its flow-control window (${meter.inFlight} bytes in flight)`,
          true,
        );
      }
      queue.push(frame);
    },
  });
  const unwatch = ctx.watch.watch(peerInstance, (reason) => {
    finish(`lost the node holding the agent's stream: ${reason}`);
  });

  async function* frames(): AsyncGenerator<SessionOutput> {
    for await (const frame of queue) {
      if (frame.msg.case === "output") delivered += frame.msg.value.data.length;
      yield frame;
    }
  }

  return {
    frames: frames(),
    send(input) {
      if (ended) return false;
      const msg = input.msg;
      if (msg.case === "open") {
        meter.window = Math.min(msg.value.windowBytes || DEFAULT_WINDOW_BYTES, ctx.maxWindowBytes);
        input = create(SessionInputSchema, {
          msg: { case: "open", value: { ...msg.value, windowBytes: meter.window } },
        });
      } else if (msg.case === "credit") {
        // Credit for bytes not delivered yet would let the agent fill this node's memory.
        const credit = Math.min(msg.value, delivered - credited);
        if (credit <= 0) return true;
        credited += credit;
        meter.credited(credit);
        input = create(SessionInputSchema, { msg: { case: "credit", value: credit } });
      }
      return publish(input);
    },
    end() {
      if (ended) return;
      ended = true;
      try {
        ctx.nc.publish(inSubject, END_OF_STREAM);
      } catch {
        // The agent's node hangs up on its own when it loses this one.
      }
      finish();
    },
  };
}

/**
 * The agent's half, on the node that accepted the agent's dial-back while the
 * client waits elsewhere: claims the session from whichever node waits for it,
 * then pumps frames both ways until one side ends. A client that overruns the
 * agent's input window, or a peer node that dies, hangs the session up.
 *
 * @example
 * ```ts
 * runAgentHalf(ctx, machineId, sessionId, dialed).catch(log); // from Bus.acceptDial
 * ```
 */
export async function runAgentHalf(
  ctx: BridgeContext,
  machineId: string,
  sessionId: string,
  session: DialedSession,
): Promise<void> {
  const meter = new CreditMeter(DEFAULT_INPUT_WINDOW_BYTES, SLACK_BYTES);
  const outSubject = Subjects.sessionOut(sessionId);
  let inputEnded = false;
  let peerLost = false;
  // A terminal the agent keeps for its client to resume is let go of, not hung up, when the
  // client's node dies: the client reconnects (to any node) and resumes it.
  let resumable = false;
  const hangUp = (problem: string, close = true) => {
    if (inputEnded) return;
    inputEnded = true;
    ctx.log(`session ${sessionId}: ${problem}`);
    if (close) session.send(hangUpFrame());
    session.end();
  };
  const sub = ctx.nc.subscribe(Subjects.sessionIn(sessionId), {
    callback: (error, msg) => {
      if (error) return hangUp(`bridge subscription failed: ${error.message}`);
      if (inputEnded) return;
      if (msg.data.length === 0) {
        inputEnded = true;
        session.end();
        return;
      }
      let input: SessionInput;
      try {
        input = decodeInput(msg.data);
      } catch {
        return hangUp("the client's node sent a frame that does not decode");
      }
      if (input.msg.case === "open") {
        resumable = resumableOpen(input.msg.value);
      }
      if (input.msg.case === "data" && !meter.sent(input.msg.value.length)) {
        return hangUp(`the client overran the agent's input window (${meter.inFlight} bytes)`);
      }
      session.send(input);
    },
  });

  let peer: string;
  try {
    await ctx.nc.flush();
    const request: ClaimRequest = { machineId, instance: ctx.instanceId };
    const reply = await ctx.nc.request(Subjects.sessionClaim(sessionId), JSON.stringify(request), {
      timeout: ctx.claimTimeoutMs,
    });
    const answer = reply.json<ClaimReply>();
    if (!answer.ok || !answer.instance) throw new Error(answer.reason ?? "refused");
    peer = answer.instance;
  } catch (error) {
    sub.unsubscribe();
    inputEnded = true;
    session.end();
    ctx.log(`session ${sessionId}: no node took the dial-back: ${(error as Error).message}`);
    for await (const _ of session.frames) { /* let the agent's stream run out */ }
    return;
  }

  const unwatch = ctx.watch.watch(peer, (reason) => {
    peerLost = true;
    hangUp(`lost the client's node: ${reason}`, !resumable);
  });
  try {
    for await (const frame of session.frames) {
      if (frame.msg.case === "ready") {
        meter.window = frame.msg.value.windowBytes || DEFAULT_INPUT_WINDOW_BYTES;
      } else if (frame.msg.case === "credit") meter.credited(frame.msg.value);
      if (peerLost) continue;
      for (const bytes of encodeOutputs(frame)) ctx.nc.publish(outSubject, bytes);
    }
  } catch (error) {
    hangUp(`session bridge failed: ${(error as Error).message}`);
  } finally {
    sub.unsubscribe();
    unwatch();
    // As in a local session: once the agent's side is done, so is the way to it.
    session.end();
    try {
      // The client's half ends its session on this, whether the agent finished or failed.
      if (!peerLost) ctx.nc.publish(outSubject, END_OF_STREAM);
    } catch {
      // Disconnected: the client's node notices this node's silence instead.
    }
  }
}
