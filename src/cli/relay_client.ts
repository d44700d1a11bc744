/** connectRelay: the relay URL, the credential (and where each came from), and typed clients over one transport. */
import { keepaliveFromEnv } from "../lib/keepalive.ts";
import { proxyConfigured } from "../lib/proxy_env.ts";
import { CliError } from "./errors.ts";
import type { CliContext } from "./context.ts";
import { resolveAccess, type ResolvedAccess } from "./access.ts";
import type { GlobalOptions, RunState } from "./globals.ts";
import { LOGIN_AGAIN_HINT, LoginSession } from "./login_session.ts";
import type { RelayClients } from "./relay_clients.ts";

export type { RelayClients, SessionCalls } from "./relay_clients.ts";

/** How sessions reach the relay (`CMDOP_TRANSPORT`): auto tries full duplex and falls back. */
export type SessionTransport = "auto" | "duplex" | "half";

export interface RelayConnection extends ResolvedAccess, RelayClients {
  /** Machine tokens earned by passwords during this run, by machine id. */
  machineTokens: Map<string, string>;
  /** The relay's workspace the calls act in, once `listMachines` said (remembered passwords use it). */
  relayWorkspace?: { id: string; name: string };
  /** How often sessions ping the relay (`CMDOP_KEEPALIVE`, seconds). */
  keepaliveMs: number;
  /** `CMDOP_TRANSPORT`; after a fallback in this run, "half" (the path will not change). */
  transport: SessionTransport;
  /** Writes one line to stderr (the half-duplex fallback says so there). */
  note(line: string): void;
  /** Set once the user was told that the relay records their sessions. */
  recordingAnnounced?: boolean;
}

/**
 * Resolves server and credential and builds the clients. Records the
 * credential's source in `state` so an auth failure can name it.
 */
export async function connectRelay(
  ctx: CliContext,
  globals: GlobalOptions,
  state: RunState,
): Promise<RelayConnection> {
  return await openRelayConnection(ctx, state, await resolveAccess(ctx, globals));
}

/** What to do when each kind of credential is refused. */
const REFUSED_HINTS: Record<ResolvedAccess["kind"], string> = {
  api_key: "fix or replace that credential",
  login_token: LOGIN_AGAIN_HINT,
  share_link: "the link may have been revoked or have expired: ask for a new one",
  machine_credential: "the machine may have been removed from its workspace; " +
    "its agent enrolls again with a new enroll token",
};

/**
 * Builds the clients for an already resolved credential (a share link brings its
 * own). A login token is refreshed when it expires, and sent with the workspace it
 * acts in.
 */
export async function openRelayConnection(
  ctx: CliContext,
  state: RunState,
  access: ResolvedAccess,
): Promise<RelayConnection> {
  const keepaliveMs = sessionKeepalive(ctx);
  const transport = sessionTransport(ctx);
  const note = (line: string) => void ctx.stderr.write(`${line}\n`).catch(() => {});
  state.credentialSource = access.credentialSource;
  const { warnCredentialExposure } = await import("./exposure_warnings.ts");
  await warnCredentialExposure(ctx, state, access);
  state.server = access.server;
  state.serverSource = access.serverSource;
  state.credentialHint = REFUSED_HINTS[access.kind];
  const headers: Record<string, string> = {};
  if (access.workspaceHint) headers["cmdop-workspace"] = access.workspaceHint;
  const fetch = await relayFetch(ctx);
  const options = {
    baseUrl: access.server,
    bearer: access.credential,
    headers,
    fetch,
    interceptors: [],
  };
  if (access.kind === "login_token" && access.login && access.home) {
    const session = new LoginSession(access.home, access.login, fetch ?? globalThis.fetch, ctx.now);
    const { fullRelayClients } = await import("./relay_full.ts");
    const clients = fullRelayClients({
      ...options,
      bearer: undefined,
      interceptors: [session.interceptor()],
    });
    return { ...access, ...clients, machineTokens: new Map(), keepaliveMs, transport, note };
  }
  // The lean clients speak over their own sockets: not through a proxy, nor a fetch of the caller's.
  const caCerts = (fetch as { caCerts?: string[] } | undefined)?.caCerts;
  if (proxyConfigured() || (fetch && !caCerts)) {
    const { fullRelayClients } = await import("./relay_full.ts");
    return {
      ...access,
      ...fullRelayClients(options),
      machineTokens: new Map(),
      keepaliveMs,
      transport,
      note,
    };
  }
  const { leanRelayClients } = await import("./relay_lean.ts");
  return {
    ...access,
    ...leanRelayClients({ ...options, caCerts }),
    machineTokens: new Map(),
    keepaliveMs,
    transport,
    note,
  };
}

/** `CMDOP_TRANSPORT`: auto (the default), duplex or half; anything else is an error naming it. */
function sessionTransport(ctx: CliContext): SessionTransport {
  const value = (ctx.env("CMDOP_TRANSPORT") ?? "").trim().toLowerCase() || "auto";
  if (value === "auto" || value === "duplex" || value === "half") return value;
  throw new CliError(`CMDOP_TRANSPORT must be auto, duplex or half, not "${value}"`, {
    hint: "auto tries a full-duplex stream and falls back to half duplex when the path holds it",
  });
}

/** `CMDOP_KEEPALIVE` as milliseconds, or an error naming it. */
function sessionKeepalive(ctx: CliContext): number {
  try {
    return keepaliveFromEnv(ctx.env("CMDOP_KEEPALIVE"));
  } catch (error) {
    throw new CliError((error as Error).message, { hint: "e.g. CMDOP_KEEPALIVE=15" });
  }
}

/**
 * The fetch the CLI talks to relays with: trusting a private CA when `CMDOP_CA_FILE`
 * names one (the environment, because the global flags are fixed by the spec).
 */
export async function relayFetch(ctx: CliContext): Promise<typeof globalThis.fetch | undefined> {
  const caFile = ctx.env("CMDOP_CA_FILE");
  if (!caFile) return undefined;
  const { loadCaFetch } = await import("../lib/ca_fetch.ts");
  return await loadCaFetch(caFile, "CMDOP_CA_FILE").catch(asCliError);
}

function asCliError(error: Error): never {
  throw new CliError(error.message);
}
