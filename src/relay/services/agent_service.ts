/** AgentService: enrollment, the agent's control stream (commands + pings), its heartbeat answers and its dial-back streams. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  type AgentCommand,
  AgentCommandSchema,
  type AgentHello,
  AgentService,
  type DialFrame,
} from "../../../gen/cmdop/v1/agent_pb.ts";
import type { SessionInput, SessionOutput } from "../../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../../lib/async_queue.ts";
import { answerSilenceMs, Keepalive } from "../../lib/keepalive.ts";
import { hashSecret, newId, newSecret } from "../../lib/secrets.ts";
import { CONTROL_RECHECK_MS, watchAccess } from "../access_watch.ts";
import { authenticateAgent, SecretPrefix } from "../auth.ts";
import { peerOf } from "../audit/audit_log.ts";
import type { RelayDeps } from "../deps.ts";
import { namesTaken, renameLine } from "../machine_names.ts";
import { hashPassword } from "../passwords.ts";
import { checkLabels, LabelError } from "../../lib/labels.ts";

const MAX_FIELD = 255;

/** Registers the agent-facing service. */
export function registerAgentService(router: ConnectRouter, deps: RelayDeps): void {
  router.service(AgentService, {
    async enroll(req, ctx) {
      const tokenHash = await hashSecret(req.enrollToken);
      const workspaceId = await deps.store.workspaceIdByEnrollToken(tokenHash, deps.now());
      if (!workspaceId) {
        throw new ConnectError("enroll token is not valid (or expired)", Code.Unauthenticated);
      }
      const hostname = req.hostname.trim();
      if (!hostname || hostname.length > MAX_FIELD) {
        throw new ConnectError("hostname must be 1 to 255 characters", Code.InvalidArgument);
      }
      const machineId = newId();
      const displayName = req.displayName.trim().slice(0, MAX_FIELD) || hostname;
      const secret = newSecret("s").slice(2);
      const now = deps.now();
      const other = await deps.store.insertMachine({
        id: machineId,
        workspaceId,
        hostname,
        displayName,
        os: req.os.slice(0, MAX_FIELD),
        arch: req.arch.slice(0, MAX_FIELD),
        agentVersion: req.agentVersion.slice(0, MAX_FIELD),
        secretHash: await hashSecret(secret),
        passwordHash: req.password ? await hashPassword(req.password) : null,
        createdMs: now,
        lastSeenMs: 0,
        labels: {},
      });
      if (other) throw namesTaken(other, hostname, displayName);
      deps.log(`machine ${machineId} (${hostname}) enrolled in workspace ${workspaceId}`);
      deps.audit.record({
        workspaceId,
        kind: "machine.enrolled",
        actor: { kind: "enroll_token", id: tokenHash.slice(0, 12) },
        peer: peerOf(ctx.requestHeader),
        machine: { id: machineId, hostname },
      });
      return {
        machineId,
        machineSecret: `${SecretPrefix.machineSecret}_${machineId}.${secret}`,
        workspaceId,
      };
    },

    control: (req, ctx: HandlerContext) => agentControl(deps, req, ctx),

    async *dial(reqs, ctx: HandlerContext) {
      const machine = await authenticateAgent(deps, ctx.requestHeader);
      const frames = reqs[Symbol.asyncIterator]();
      const first = await frames.next();
      if (first.done || !first.value.sessionId) {
        throw new ConnectError("first dial frame must name the session", Code.InvalidArgument);
      }
      const toAgent = new AsyncQueue<SessionInput>();
      const accepted = deps.bus.acceptDial(machine.id, first.value.sessionId, {
        frames: agentOutputs(frames),
        send: (input) => toAgent.push(input),
        end: () => toAgent.close(),
      });
      if (!accepted) {
        throw new ConnectError(`no session "${first.value.sessionId}" waits`, Code.NotFound);
      }
      const onAbort = () => toAgent.close();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        yield* toAgent;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },

    async heartbeat(_req, ctx) {
      const machine = await authenticateAgent(deps, ctx.requestHeader);
      deps.bus.heartbeat(machine.id, deps.now());
      return {};
    },

    async setPassword(req, ctx) {
      const machine = await authenticateAgent(deps, ctx.requestHeader);
      await deps.store.setMachinePassword(
        machine.id,
        req.password ? await hashPassword(req.password) : null,
      );
      return {};
    },
  });
}

async function* agentOutputs(frames: AsyncIterator<DialFrame>): AsyncGenerator<SessionOutput> {
  for (;;) {
    const next = await frames.next();
    if (next.done) return;
    if (next.value.output) yield next.value.output;
  }
}

/** What the control stream reads of its call: who is calling, and when the call ends. */
export interface ControlCall {
  requestHeader: Headers;
  signal: AbortSignal;
}

/**
 * An agent's control stream: authenticates it, records its details, attaches it
 * to the bus, then yields the welcome and every command (dials, heartbeats)
 * until the call ends. Served through the Connect router and, for the binary
 * protocol, by `control_stream.ts` without the generic pipeline.
 *
 * @example
 * ```ts
 * for await (const command of agentControl(deps, hello, { requestHeader, signal })) send(command);
 * ```
 */
export async function* agentControl(
  deps: RelayDeps,
  req: AgentHello,
  ctx: ControlCall,
): AsyncGenerator<AgentCommand> {
  const machine = await authenticateAgent(deps, ctx.requestHeader);
  try {
    checkLabels(req.labels);
  } catch (error) {
    if (!(error instanceof LabelError)) throw error;
    throw new ConnectError(error.message, Code.InvalidArgument);
  }
  const hostname = req.hostname.trim().slice(0, MAX_FIELD) || machine.hostname;
  const displayName = req.displayName.trim().slice(0, MAX_FIELD) || machine.displayName;
  const renamed = renameLine(machine, hostname, displayName);
  const other = await deps.store.updateMachineInfo(machine.id, {
    hostname,
    displayName,
    os: req.os.slice(0, MAX_FIELD) || machine.os,
    arch: req.arch.slice(0, MAX_FIELD) || machine.arch,
    agentVersion: req.agentVersion.slice(0, MAX_FIELD) || machine.agentVersion,
    // The agent keeps its labels and sends them every time: what it says now replaces them.
    labels: { ...req.labels },
  });
  if (other) throw namesTaken(other, hostname, displayName);
  if (renamed) deps.log(renamed);
  // Commands are tiny and rare; a backlog this deep means the agent stopped reading.
  const commands = new AsyncQueue<AgentCommand>(1024);
  const intervalMs = deps.keepaliveMs;
  const ping = () =>
    commands.push(
      create(AgentCommandSchema, { msg: { case: "ping", value: { timeMs: BigInt(deps.now()) } } }),
    );
  // An agent that answers pings is alive only while its answers come; one that does not
  // (an older agent) is believed for as long as its stream stays open.
  const keepalive = new Keepalive(
    req.answersPings
      ? {
        intervalMs,
        silenceMs: answerSilenceMs(intervalMs),
        ping,
        silent: (silentFor) => {
          deps.log(
            `machine ${machine.id} (${hostname}) stopped answering pings ` +
              `(${Math.round(silentFor / 1000)} s): offline`,
          );
          commands.close();
        },
      }
      : {
        intervalMs,
        silenceMs: Infinity,
        ping: () => {
          deps.bus.heartbeat(machine.id, deps.now());
          ping();
        },
        silent: () => {},
      },
  );
  let replaced = false;
  const detach = deps.bus.attachAgent(machine.id, {
    send: (c) => commands.push(c),
    close: (reason) => {
      replaced = true;
      commands.fail(new ConnectError(reason, Code.Aborted));
    },
    answered: () => keepalive.heard(),
  });
  const onAbort = () => commands.close();
  ctx.signal.addEventListener("abort", onAbort);
  // A removed machine's live stream ends too, not only its next connection.
  const access = watchAccess(
    deps,
    `machine ${machine.id} (${hostname})`,
    async () => (await deps.store.machineById(machine.id)) ? undefined : "machine was removed",
    CONTROL_RECHECK_MS,
  );
  access.signal.addEventListener("abort", () => commands.fail(access.signal.reason));
  await deps.store.touchMachines([machine.id], deps.now());
  deps.log(`machine ${machine.id} (${hostname}) online`);
  try {
    yield create(AgentCommandSchema, {
      msg: {
        case: "welcome",
        value: {
          machineId: machine.id,
          workspaceId: machine.workspaceId,
          pingIntervalMs: intervalMs,
        },
      },
    });
    yield* commands;
  } finally {
    keepalive.stop();
    access.stop();
    ctx.signal.removeEventListener("abort", onAbort);
    detach();
    await deps.store.touchMachines([machine.id], deps.now()).catch(() => {});
    deps.log(
      replaced
        ? `machine ${machine.id} (${hostname}): older connection closed, a newer one took over`
        : `machine ${machine.id} (${hostname}) offline`,
    );
  }
}
