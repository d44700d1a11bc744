/** `cmdop connect forward HOST SPEC`: a local port carried to a host and port reached from a machine. */
import type { Machine } from "../../../../gen/cmdop/v1/machine_pb.ts";
import { halfOpenReadable } from "../../../lib/tcp_stream.ts";
import { SESSION_KIND } from "../../../lib/wire/session_codec.ts";
import type { CliContext } from "../../context.ts";
import { CliError, ExitCode, ExitRequest, interruptedExitCode } from "../../errors.ts";
import { toCliError } from "../../error_mapping.ts";
import type { GlobalOptions, RunState } from "../../globals.ts";
import { passwordSource } from "../../machine_password.ts";
import type { RelayConnection } from "../../relay_client.ts";
import { type OpenedSession, openSession, type PasswordSource } from "../../session_client.ts";
import { readSuppliedLink, SHARE_LINK_VARIABLE } from "../../share_link_input.ts";
import { resolveTarget } from "../../target.ts";
import { type ForwardSpec, isLoopback, parseForwardSpec } from "./forward_spec.ts";

export interface ForwardOptions {
  host?: string;
  spec?: string;
  bind?: string;
  linkFile?: string;
  /** Connections carried at once (a number as typed); more wait in the listen queue. */
  maxConnections?: string;
}

/** `--max-connections` unless given: each connection is a session on the relay and the agent. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** The most `--max-connections` takes (an agent runs at most 64 sessions at once unless told otherwise). */
const MAX_CONNECTIONS_LIMIT = 1024;

/**
 * Listens on the spec's local address and, for each connection accepted, opens a
 * forward session through the relay: the machine connects to the remote host and
 * port, and bytes flow both ways under the session's credit, half-closes passed
 * on. Runs until interrupted; a credential the relay stops accepting ends it
 * (exit 2), a connection that fails (the target refuses, the machine went
 * offline) is reported on stderr and the others carry on.
 */
export async function runForward(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
  options: ForwardOptions,
): Promise<never> {
  let { host, spec } = options;
  // With a share link the machine is the link's: the one word given is the spec.
  if (spec === undefined && (options.linkFile !== undefined || ctx.env(SHARE_LINK_VARIABLE))) {
    [host, spec] = [undefined, host];
  }
  if (spec === undefined) {
    throw new CliError(host === undefined ? "no machine given" : "no forward spec given", {
      hint: "cmdop connect forward HOST LOCALPORT:REMOTEHOST:REMOTEPORT, e.g. " +
        "cmdop connect forward db-1 5432:127.0.0.1:5432",
    });
  }
  const forward = parseForwardSpec(spec, options.bind);
  const limit = maxConnections(options.maxConnections);
  const supplied = await readSuppliedLink(ctx, host, options.linkFile);
  const target = supplied ?? host;
  if (target === undefined) {
    throw new CliError("no machine given", {
      hint: "name it: cmdop connect forward HOST SPEC; or give a share link with " +
        "--link-file FILE or CMDOP_SHARE_LINK",
    });
  }
  const { conn, machine } = await resolveTarget(ctx, globals, state, target);
  const passwords = passwordSource(ctx, globals, conn, machine);
  if (machine.hasPassword) await unlock(ctx, conn, machine, passwords);

  const listener = listen(forward);
  const local = listener.addr as Deno.NetAddr;
  const listening = `${bracketed(local.hostname)}:${local.port}`;
  const remote = `${bracketed(forward.remoteHost)}:${forward.remotePort}`;
  if (globals.json) {
    await ctx.stdout.write(
      JSON.stringify({ listen: listening, machine: machine.hostname, remote }) + "\n",
    );
  } else {
    await ctx.stderr.write(
      `forwarding ${listening} to ${remote} from "${machine.hostname}" (Ctrl-C to stop)\n`,
    );
  }
  if (!isLoopback(local.hostname)) {
    await ctx.stderr.write(
      `warning: listening on ${listening}: anyone who can reach this computer on that ` +
        `address can use the forward to ${remote}\n`,
    );
  }

  const forwarder = new Forwarder(ctx, conn, machine, forward, passwords);
  const stop = () => listener.close();
  ctx.signal.addEventListener("abort", stop, { once: true });
  try {
    await forwarder.serve(listener, limit);
  } finally {
    ctx.signal.removeEventListener("abort", stop);
    forwarder.closeAll();
  }
  if (forwarder.fatal) throw forwarder.fatal;
  throw new ExitRequest(interruptedExitCode(ctx.signal));
}

/** The connections of one forward and what ends it. */
class Forwarder {
  /** A refusal that ends the whole forward (the credential or the share was revoked). */
  fatal: CliError | undefined;
  readonly #sessions = new Set<OpenedSession>();
  readonly #sockets = new Set<Deno.TcpConn>();
  #stopListening = () => {};

  constructor(
    readonly ctx: CliContext,
    readonly conn: RelayConnection,
    readonly machine: Machine,
    readonly forward: ForwardSpec,
    readonly passwords: PasswordSource,
  ) {}

  /** Accepts connections, at most `limit` carried at once, until the listener closes. */
  async serve(listener: Deno.TcpListener, limit: number): Promise<void> {
    this.#stopListening = () => listener.close();
    let active = 0;
    let slotFreed = () => {};
    for (;;) {
      while (active >= limit) await new Promise<void>((resolve) => slotFreed = resolve);
      let socket: Deno.TcpConn;
      try {
        socket = await listener.accept();
      } catch {
        // Closed: interrupted, or a fatal refusal.
        return;
      }
      active++;
      this.#carry(socket).finally(() => {
        active--;
        slotFreed();
      });
    }
  }

  /** Hangs up every session and closes every socket. */
  closeAll(): void {
    for (const session of this.#sessions) session.close();
    for (const socket of this.#sockets) closeQuietly(socket);
  }

  /** One accepted connection, carried through its own session; never throws. */
  async #carry(socket: Deno.TcpConn): Promise<void> {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const from = socket.remoteAddr as Deno.NetAddr;
    let session: OpenedSession | undefined;
    try {
      session = await openSession(
        this.conn,
        {
          machineId: this.machine.id,
          kind: SESSION_KIND.FORWARD,
          forward: { host: this.forward.remoteHost, port: this.forward.remotePort },
        },
        this.passwords,
        this.ctx.signal,
      );
      this.#sessions.add(session);
      await pipe(socket, session);
    } catch (error) {
      await this.#report(error, `${bracketed(from.hostname)}:${from.port}`);
    } finally {
      if (session) {
        this.#sessions.delete(session);
        session.close();
      }
      this.#sockets.delete(socket);
      closeQuietly(socket);
    }
  }

  async #report(error: unknown, from: string): Promise<void> {
    if (this.ctx.signal.aborted) return;
    const failure = error instanceof CliError ? error : toCliError(error);
    if (failure.exitCode === ExitCode.auth && !this.fatal) {
      // Every later connection would be refused too.
      this.fatal = failure;
      this.#stopListening();
      return;
    }
    await this.ctx.stderr.write(`warning: connection from ${from}: ${failure.message}\n`)
      .catch(() => {});
  }
}

/**
 * Carries bytes both ways until both directions have ended and the machine has said so
 * (its exit frame), or either side fails.
 */
async function pipe(socket: Deno.TcpConn, session: OpenedSession): Promise<void> {
  const upstream = (async () => {
    try {
      for await (const chunk of halfOpenReadable(socket)) await session.write(chunk);
      session.endInput();
    } catch {
      // A reset from the local program: the session hangs up below, once output ends.
      session.close();
    }
  })();
  const writer = socket.writable.getWriter();
  let exitError: string | undefined;
  try {
    for (;;) {
      const next = await session.frames.next();
      if (next.done) break;
      const msg = next.value.msg;
      if (msg.case === "output") {
        if (msg.value.data.length === 0) {
          // The target finished sending: so does the forward, toward the local program.
          await socket.closeWrite().catch(() => {});
          continue;
        }
        await writer.write(msg.value.data);
        session.consumed(msg.value.data.length);
      } else if (msg.case === "exit") {
        if (msg.value.error) exitError = msg.value.error;
        break;
      }
    }
  } finally {
    writer.releaseLock();
  }
  void upstream;
  if (exitError) throw new CliError(exitError);
}

/** Opens the local port, with errors that name the address. */
function listen(forward: ForwardSpec): Deno.TcpListener {
  const where = `${bracketed(forward.bind)}:${forward.localPort}`;
  try {
    return Deno.listen({ hostname: forward.bind, port: forward.localPort, transport: "tcp" });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(`cannot listen on ${where}: the port is in use`, {
        hint: "pick another local port, or 0 for a free one",
      });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CliError(`cannot listen on ${where}: permission denied`, {
        hint: "ports below 1024 need privileges: pick a port from 1024 up",
      });
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new CliError(`cannot listen on ${where}: no such address on this computer`, {
        hint: "--bind takes an address of this computer, e.g. 127.0.0.1 or 0.0.0.0",
      });
    }
    throw new CliError(`cannot listen on ${where}: ${(error as Error).message}`);
  }
}

/** Unlocks a protected machine once, before any connection, so connections never prompt. */
async function unlock(
  ctx: CliContext,
  conn: RelayConnection,
  machine: Machine,
  passwords: PasswordSource,
): Promise<void> {
  if (conn.machineTokens.has(machine.id)) return;
  const password = await passwords(machine.id);
  if (password === undefined) {
    throw new CliError("this machine requires an attach password", {
      exitCode: ExitCode.auth,
      hint: "remember one with: cmdop connect password set <host>",
    });
  }
  try {
    const granted = await conn.machines.unlockMachine({ machineId: machine.id, password }, {
      signal: ctx.signal,
    });
    conn.machineTokens.set(machine.id, granted.machineToken);
  } catch (error) {
    const failure = toCliError(error);
    if (failure.exitCode !== ExitCode.auth) throw failure;
    throw new CliError(`wrong password for "${machine.hostname}"`, {
      exitCode: ExitCode.auth,
      hint: "check the machine's attach password; change a remembered one with: " +
        "cmdop connect password set <host>",
      cause: error,
    });
  }
}

function maxConnections(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_CONNECTIONS;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= MAX_CONNECTIONS_LIMIT)) {
    throw new CliError(
      `--max-connections "${text}" is not a number from 1 to ${MAX_CONNECTIONS_LIMIT}`,
      { hint: `the default is ${DEFAULT_MAX_CONNECTIONS}` },
    );
  }
  return value;
}

function bracketed(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

function closeQuietly(socket: Deno.TcpConn): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
}
