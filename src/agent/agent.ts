/** runAgent: enroll once, then hold the control stream to the relay forever and serve its sessions. */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AgentService } from "../../gen/cmdop/v1/agent_pb.ts";
import { pingSilenceMs } from "../lib/keepalive.ts";
import { supervise } from "../lib/supervise.ts";
import { proxyFailure } from "../lib/proxy_env.ts";
import { createRelayTransport, relayHttpClient } from "../lib/transport.ts";
import { createConnectLite } from "../lib/wire/connect_lite.ts";
import { VERSION } from "../version.ts";
import { Backoff, sleep } from "./backoff.ts";
import type { SessionChannel } from "./channel.ts";
import { type AgentClient, type DialStream, serveSession } from "./dial_session.ts";
import { ProcessTracker, reapLeftovers } from "./process_tracker.ts";
import type { PtySessionEnvironment } from "./pty_session.ts";
import { type AgentState, loadAgentState, saveAgentState } from "./state.ts";
import { formatLabels, type Labels } from "../lib/labels.ts";
import { DEFAULT_RESUME_GRACE_MS, HeldSessions } from "./held_sessions.ts";

/** Silence that means a dead link when the relay does not say how often it pings (older relays ping every 15 s). */
const CONTROL_SILENCE_MS = 45_000;
/** A relay that has not welcomed the agent this long after it dialled is not going to (a blackholed link). */
const WELCOME_TIMEOUT_MS = 15_000;
/** How long an answer to a ping may take before the link is taken for dead. */
const HEARTBEAT_TIMEOUT_MS = 10_000;

export interface AgentOptions {
  server: string;
  /**
   * Every relay URL to use, `server` among them; after a failure the agent
   * moves on to the next, so a dead cluster node costs one reconnect.
   */
  servers?: string[];
  /** A fetch that trusts a private CA (see `fetchTrustingCa`). */
  fetch?: typeof globalThis.fetch;
  enrollToken?: string;
  stateDir: string;
  hostname: string;
  displayName?: string;
  /**
   * The machine's labels from `--label`: they replace (and are saved over) the labels in
   * the state; `undefined` keeps the saved ones.
   */
  labels?: Labels;
  /** Attach password to register (from --password-stdin). */
  password?: string;
  signal: AbortSignal;
  log(message: string): void;
  /** Runs a terminal session; absent where pseudo-terminals are not supported. */
  runPtySession?: (channel: SessionChannel, environment: PtySessionEnvironment) => Promise<void>;
  /** Sessions (exec and terminal) running at once; past it new ones are refused. Default 64. */
  maxSessions?: number;
  /**
   * The longest a terminal whose stream was lost is kept for its client to resume
   * (`--resume-grace`); 0 turns resuming off. Default {@linkcode DEFAULT_RESUME_GRACE_MS}.
   */
  resumeGraceMs?: number;
  /** Refuse port forwarding sessions (`--no-port-forwarding`). */
  noPortForwarding?: boolean;
  /** Refuse file copy sessions (`--no-file-copy`). */
  noFileCopy?: boolean;
}

/**
 * Each session holds a process group, pipes and up to one output window
 * (8 MiB at most) of memory: 64 at once is far past interactive use and keeps
 * a flood of sessions from one client within ~0.5 GB.
 */
export const DEFAULT_MAX_SESSIONS = 64;

/** The agent cannot go on without an operator (bad enroll token, revoked credential). */
export class AgentFatalError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "AgentFatalError";
  }
}

/**
 * Runs until the signal aborts. Network failures are retried forever with
 * backoff; only credential problems end it, with {@linkcode AgentFatalError}.
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  // Commands a killed agent could not end are ended before this one starts new ones.
  const reaped = await reapLeftovers(options.stateDir);
  if (reaped > 0) options.log(`ended ${reaped} processes left running by the previous agent`);
  const tracker = new ProcessTracker({ stateDir: options.stateDir, log: options.log });
  try {
    await serveRelay(options, tracker);
  } finally {
    // Stopped (SIGTERM, SIGINT) or failed: no command outlives the agent that ran it.
    await tracker.endAll();
  }
}

async function serveRelay(options: AgentOptions, tracker: ProcessTracker): Promise<void> {
  const backoff = new Backoff({ baseMs: 200, capMs: 10_000 });
  const ring = new ServerRing(options.servers?.length ? options.servers : [options.server]);
  const state = await enrollOnce(options, backoff, ring);
  if (options.signal.aborted) return;
  const clients = new Map<string, { client: AgentClient; dial: DialStream }>();
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  let running = 0;
  // Kept terminals have no stream but hold a shell and a window of output: they count as sessions.
  const held = new HeldSessions(options.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS);
  const host = { ...options, held };
  const clientFor = (server: string) => {
    let calls = clients.get(server);
    if (!calls) {
      // One HTTP client for both: what it learns of the relay's front end holds for each.
      const httpClient = relayHttpClient({ baseUrl: server, fetch: options.fetch });
      const transport = createRelayTransport({
        baseUrl: server,
        bearer: state.credential,
        httpClient,
      });
      const lite = createConnectLite({
        baseUrl: server,
        headers: { authorization: `Bearer ${state.credential}` },
        httpClient,
      });
      const dial: DialStream = (framed, signal) =>
        lite.stream("/cmdop.v1.AgentService/Dial", framed, signal);
      clients.set(server, calls = { client: createClient(AgentService, transport), dial });
    }
    return calls;
  };
  if (options.password !== undefined) {
    await retrying(
      options,
      backoff,
      ring,
      (server) => clientFor(server).client.setPassword({ password: options.password! }),
    );
    options.log("attach password registered");
  }
  const hello = {
    hostname: options.hostname,
    displayName: options.displayName ?? "",
    os: Deno.build.os,
    arch: Deno.build.arch,
    agentVersion: VERSION,
    answersPings: true,
    labels: state.labels ?? {},
  };
  while (!options.signal.aborted) {
    const server = ring.current;
    // Sessions dial back to the node that holds this control stream.
    const { client, dial } = clientFor(server);
    const link = new AbortController();
    const stop = () => link.abort();
    options.signal.addEventListener("abort", stop, { once: true });
    let silenceMs = WELCOME_TIMEOUT_MS;
    let watchdog = setTimeout(stop, silenceMs);
    let answering = false;
    try {
      for await (const command of client.control(hello, { signal: link.signal })) {
        clearTimeout(watchdog);
        if (command.msg.case === "welcome") {
          backoff.reset();
          const interval = command.msg.value.pingIntervalMs;
          silenceMs = interval > 0 ? pingSilenceMs(interval) : CONTROL_SILENCE_MS;
          options.log(`online as machine ${command.msg.value.machineId} at ${server}`);
        } else if (command.msg.case === "ping" && !answering) {
          // One answer at a time: a relay that does not take it within the bound has lost us.
          answering = true;
          answerPing(client, command.msg.value.timeMs, options, () => link.abort())
            .finally(() => answering = false);
        } else if (command.msg.case === "dial") {
          const sessionId = command.msg.value.sessionId;
          const refusal = running + held.detached >= maxSessions
            ? `this machine is running its maximum of ${maxSessions} sessions; try again later`
            : undefined;
          if (!refusal) running++;
          const release = () => {
            if (!refusal) running--;
          };
          supervise(
            `session ${sessionId}`,
            serveSession(dial, sessionId, host, tracker, refusal),
            { log: options.log },
          ).then(release, release);
        }
        watchdog = setTimeout(stop, silenceMs);
      }
    } catch (error) {
      if (options.signal.aborted) break;
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.Unauthenticated) {
        throw new AgentFatalError(
          `the relay rejected this machine's credential (${connectError.rawMessage}); ` +
            `remove "${options.stateDir}/agent.json" and enroll again`,
          2,
        );
      }
      if (
        connectError.code === Code.AlreadyExists || connectError.code === Code.InvalidArgument
      ) {
        throw new AgentFatalError(`the relay refused: ${connectError.rawMessage}`, 1);
      }
      const reason = proxyFailure(connectError.rawMessage, server) ?? connectError.rawMessage;
      options.log(`relay connection to ${server} lost: ${reason}`);
    } finally {
      clearTimeout(watchdog);
      options.signal.removeEventListener("abort", stop);
    }
    ring.advance();
    if (!options.signal.aborted) await sleep(backoff.next(), options.signal);
  }
}

/** Answers a ping with a heartbeat call; when it cannot be delivered in time, `lost` ends the link. */
async function answerPing(
  client: AgentClient,
  pingTimeMs: bigint,
  options: AgentOptions,
  lost: () => void,
): Promise<void> {
  try {
    await client.heartbeat({ pingTimeMs }, {
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(HEARTBEAT_TIMEOUT_MS)]),
    });
  } catch (error) {
    if (options.signal.aborted) return;
    options.log(`cannot answer the relay's ping: ${ConnectError.from(error).rawMessage}`);
    lost();
  }
}

/** The relay URLs in turn. */
class ServerRing {
  #index = 0;
  constructor(readonly urls: string[]) {}

  get current(): string {
    return this.urls[this.#index];
  }

  advance(): void {
    this.#index = (this.#index + 1) % this.urls.length;
  }
}

async function enrollOnce(
  options: AgentOptions,
  backoff: Backoff,
  ring: ServerRing,
): Promise<AgentState> {
  const existing = await loadAgentState(options.stateDir);
  if (existing) return await withLabels(options, existing);
  if (!options.enrollToken) {
    throw new AgentFatalError(
      `not enrolled yet: no "${options.stateDir}/agent.json"; pass --enroll-token`,
      1,
    );
  }
  let enrolledAt = ring.current;
  const response = await retrying(options, backoff, ring, (server) => {
    enrolledAt = server;
    const transport = createRelayTransport({ baseUrl: server, fetch: options.fetch });
    return createClient(AgentService, transport).enroll({
      enrollToken: options.enrollToken!,
      hostname: options.hostname,
      displayName: options.displayName ?? "",
      os: Deno.build.os,
      arch: Deno.build.arch,
      agentVersion: VERSION,
      password: options.password ?? "",
    });
  });
  const state: AgentState = {
    server: enrolledAt,
    machine_id: response.machineId,
    workspace_id: response.workspaceId,
    credential: response.machineSecret,
    labels: options.labels ?? {},
  };
  await saveAgentState(options.stateDir, state);
  options.log(`enrolled as machine ${state.machine_id}`);
  return state;
}

/** The state with the labels of `--label` when given, saved when they changed. */
async function withLabels(options: AgentOptions, state: AgentState): Promise<AgentState> {
  if (options.labels === undefined) return state;
  if (formatLabels(state.labels ?? {}) === formatLabels(options.labels)) return state;
  const updated = { ...state, labels: options.labels };
  await saveAgentState(options.stateDir, updated);
  options.log(
    `labels set: ${Object.keys(options.labels).length ? formatLabels(options.labels) : "none"}`,
  );
  return updated;
}

/** Retries network failures forever; credential errors are fatal. */
async function retrying<T>(
  options: AgentOptions,
  backoff: Backoff,
  ring: ServerRing,
  call: (server: string) => Promise<T>,
): Promise<T> {
  for (;;) {
    const server = ring.current;
    try {
      const result = await call(server);
      backoff.reset();
      return result;
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (
        connectError.code === Code.Unauthenticated ||
        connectError.code === Code.InvalidArgument
      ) {
        throw new AgentFatalError(`the relay refused: ${connectError.rawMessage}`, 2);
      }
      if (connectError.code === Code.AlreadyExists) {
        throw new AgentFatalError(`the relay refused: ${connectError.rawMessage}`, 1);
      }
      if (options.signal.aborted) throw connectError;
      const reason = proxyFailure(connectError.rawMessage, server) ?? connectError.rawMessage;
      options.log(`cannot reach the relay at ${server}: ${reason}`);
      ring.advance();
      await sleep(backoff.next(), options.signal);
    }
  }
}
