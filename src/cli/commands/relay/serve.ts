/** `cmdop relay serve`: embedded (SQLite) or a cluster node (PostgreSQL + NATS), until SIGINT/SIGTERM. */
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";
import { createLogger, type LogFormat, type Logger } from "../../../lib/log.ts";
import { parseDuration } from "../../duration.ts";
import type { ConnectionLimits } from "../../../relay/limits.ts";
import type { TrustedProxies } from "../../../relay/client_address.ts";
import type { RecordingLimits } from "../../../relay/recording/recordings.ts";

export interface ServeOptions {
  listen: string;
  data: string;
  publicUrl?: string;
  /** `postgres://…`: shared state instead of SQLite under `data`. */
  store?: string;
  /** `nats://…`: route to agents held by other nodes. */
  bus?: string;
  nodeId?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Log lines on stderr: text (default) or JSON. */
  logFormat?: LogFormat;
  headerTimeout?: string;
  idleTimeout?: string;
  bodyTimeout?: string;
  maxConnections?: string;
  maxConnectionsPerSource?: string;
  /** `--trusted-proxy`: reverse proxies whose X-Forwarded-For names the client. */
  trustedProxy?: string[];
  /** `--recording-retention`: how long session recordings are kept (`30d`; `0` forever). */
  recordingRetention?: string;
  /** `--recording-max-bytes`: output a terminal session's recording keeps. */
  recordingMaxBytes?: string;
  /** `--recording-exec-output`: output an exec session's recording keeps. */
  recordingExecOutput?: string;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:4780`). */
export function parseListen(text: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new CliError(`--listen "${text}" is not HOST:PORT`, { hint: "e.g. 127.0.0.1:4780" });
  }
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/**
 * Writes log lines to stderr in order, one write at a time: lines logged while a write is in
 * progress go out together in the next one. A relay logs a line or two per call; one write
 * each was ~5% of a busy relay's time. A line waits for no timer, only for a write in progress;
 * `drained` resolves once every line logged so far is written.
 */
function batchedLines(
  ctx: CliContext,
): { write: (line: string) => void; drained(): Promise<void> } {
  let pending: string[] = [];
  let writing: Promise<void> | undefined;
  const flush = async () => {
    try {
      while (pending.length > 0) {
        const batch = pending.join("");
        pending = [];
        await ctx.stderr.write(batch);
      }
    } finally {
      writing = undefined;
    }
  };
  return {
    write(line) {
      pending.push(line);
      writing ??= flush();
    },
    drained: () => (writing ?? Promise.resolve()).catch(() => {}),
  };
}

/** Serves until the context's signal aborts. */
export async function runServe(ctx: CliContext, options: ServeOptions): Promise<void> {
  const { hostname, port } = parseListen(options.listen);
  const keepaliveMs = await keepaliveSetting(ctx);
  const tls = await readTls(options);
  connectionLimits(options); // bad flags fail before anything is opened
  const trustedProxies = await trustedProxiesOf(options.trustedProxy ?? []);
  recordingLimits(options);
  const lines = batchedLines(ctx);
  const log = createLogger(options.logFormat ?? "text", lines.write, ctx.now);
  const { installLastResort } = await import("../../../lib/last_resort.ts");
  // Nothing one client, agent or node does may end a relay that everyone shares.
  const uninstall = installLastResort("relay", (message) => log(message, { level: "error" }));
  try {
    if (trustedProxies) {
      log(`client addresses from X-Forwarded-For of ${trustedProxies.specs.join(", ")}`);
    }
    await serveUntilStopped(ctx, options, {
      hostname,
      port,
      tls,
      log,
      keepaliveMs,
      trustedProxies,
    });
  } finally {
    uninstall();
    await lines.drained();
  }
}

async function serveUntilStopped(
  ctx: CliContext,
  options: ServeOptions,
  { hostname, port, tls, log, keepaliveMs, trustedProxies }: {
    hostname: string;
    port: number;
    tls: { cert: string; key: string } | undefined;
    log: Logger;
    keepaliveMs: number;
    trustedProxies: TrustedProxies | undefined;
  },
): Promise<void> {
  const { ListenRefused, openRelay } = await import("../../../relay/open.ts");
  const { storeUrlOf } = await import("./backends.ts");
  const { CLOCK_FILE_VARIABLE } = await import("../../../relay/clock.ts");
  const relay = await openRelay({
    hostname,
    port,
    backend: {
      data: options.data,
      storeUrl: storeUrlOf(ctx, options),
      // URLs may carry passwords: the environment keeps them out of `ps`.
      busUrl: options.bus ?? ctx.env("CMDOP_RELAY_BUS"),
      nodeId: options.nodeId,
    },
    recordingLimits: recordingLimits(options),
    tls,
    publicUrl: options.publicUrl,
    now: ctx.now,
    clockFile: ctx.env(CLOCK_FILE_VARIABLE),
    deviceIntervalS: deviceInterval(ctx),
    log,
    keepaliveMs,
    limits: connectionLimits(options),
    trustedProxies,
  }).catch((error) => {
    throw error instanceof ListenRefused ? listenError(options.listen, error.cause) : error;
  });
  await ctx.stderr.write(`listening on ${relay.url}\n`);
  const stopped = new Promise<void>((resolve) =>
    ctx.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await Promise.race([stopped, relay.finished]);
  await relay.close();
  log("relay stopped");
}

/** `--trusted-proxy` values, checked; undefined when none is given. */
async function trustedProxiesOf(values: string[]): Promise<TrustedProxies | undefined> {
  if (values.length === 0) return undefined;
  const { parseTrustedProxies } = await import("../../../relay/client_address.ts");
  try {
    const trusted = parseTrustedProxies(values);
    return trusted.specs.length > 0 ? trusted : undefined;
  } catch (error) {
    throw new CliError(`--trusted-proxy: ${(error as Error).message}`, {
      hint: "give the address the reverse proxy connects to the relay from, or its range",
    });
  }
}

/** The connection flags; unset ones keep the relay's defaults. */
export function connectionLimits(options: ServeOptions): Partial<ConnectionLimits> {
  const limits: Partial<ConnectionLimits> = {};
  const timeout = (text: string, flag: string) => {
    const ms = parseDuration(text, flag, "s");
    if (ms < 100) throw new CliError(`${flag} "${text}" is too short`, { hint: "e.g. 10s" });
    return ms;
  };
  if (options.headerTimeout) {
    limits.headerTimeoutMs = timeout(options.headerTimeout, "--header-timeout");
  }
  if (options.idleTimeout) limits.idleTimeoutMs = timeout(options.idleTimeout, "--idle-timeout");
  if (options.bodyTimeout) limits.bodyTimeoutMs = timeout(options.bodyTimeout, "--body-timeout");
  if (options.maxConnections) {
    limits.maxConnections = count(options.maxConnections, "--max-connections");
  }
  if (options.maxConnectionsPerSource) {
    limits.maxConnectionsPerSource = count(
      options.maxConnectionsPerSource,
      "--max-connections-per-source",
    );
  }
  return limits;
}

/** The recording flags; unset ones keep the relay's defaults. */
export function recordingLimits(options: ServeOptions): Partial<RecordingLimits> {
  const limits: Partial<RecordingLimits> = {};
  if (options.recordingRetention !== undefined) {
    limits.retentionMs = options.recordingRetention.trim() === "0"
      ? 0
      : parseDuration(options.recordingRetention, "--recording-retention", "d");
  }
  if (options.recordingMaxBytes !== undefined) {
    limits.maxBytes = byteSize(options.recordingMaxBytes, "--recording-max-bytes");
  }
  if (options.recordingExecOutput !== undefined) {
    limits.execOutputBytes = byteSize(options.recordingExecOutput, "--recording-exec-output");
  }
  return limits;
}

/** `64MiB`, `1m`, `512k`, `1048576`: a size in bytes, 1 KiB to 1 TiB. */
export function byteSize(text: string, flag: string): number {
  const match = /^(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)$/i.exec(text.trim());
  const unit = match?.[2].toLowerCase()[0] ?? "";
  const bytes = match
    ? Number(match[1]) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1)
    : NaN;
  if (!(bytes >= 1024 && bytes <= 1024 ** 4)) {
    throw new CliError(`${flag} "${text}" is not a size from 1 KiB to 1 TiB`, {
      hint: "e.g. 64MiB, 512KiB or 1048576",
    });
  }
  return bytes;
}

function count(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1) {
    throw new CliError(`${flag} "${text}" is not a whole number of at least 1`, {
      hint: "e.g. 1000",
    });
  }
  return n;
}

/** A refused listen, with the address that was asked for and what to do about it. */
function listenError(listen: string, error: unknown): unknown {
  const reason = (error as Error)?.message ?? String(error);
  if (error instanceof Deno.errors.AddrInUse) {
    return new CliError(`cannot listen on ${listen}: the address is already in use`, {
      hint: "another relay or program holds that port: stop it, or choose another with " +
        "--listen HOST:PORT",
      cause: error,
    });
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new CliError(
      `cannot listen on ${listen}: no interface of this machine has that address`,
      {
        hint: "use 127.0.0.1, 0.0.0.0 (all interfaces) or one of this machine's addresses",
        cause: error,
      },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new CliError(`cannot listen on ${listen}: ${reason}`, {
      hint: "ports below 1024 need privileges: choose a port above 1023 with --listen",
      cause: error,
    });
  }
  return error;
}

/** `CMDOP_KEEPALIVE` (seconds): how often agents and sessions are pinged. */
async function keepaliveSetting(ctx: CliContext): Promise<number> {
  const { keepaliveFromEnv } = await import("../../../lib/keepalive.ts");
  try {
    return keepaliveFromEnv(ctx.env("CMDOP_KEEPALIVE"));
  } catch (error) {
    throw new CliError((error as Error).message, { hint: "e.g. CMDOP_KEEPALIVE=15" });
  }
}

async function readTls(options: ServeOptions): Promise<{ cert: string; key: string } | undefined> {
  if (!options.tlsCert && !options.tlsKey) return undefined;
  if (!options.tlsCert || !options.tlsKey) {
    throw new CliError("--tls-cert and --tls-key must be given together");
  }
  const read = async (flag: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new CliError(`cannot read ${flag} "${path}": ${(error as Error).message}`);
    }
  };
  return {
    cert: await read("--tls-cert", options.tlsCert),
    key: await read("--tls-key", options.tlsKey),
  };
}

/** `CMDOP_RELAY_DEVICE_INTERVAL` (seconds): how often `cmdop login` polls; checked before anything opens. */
function deviceInterval(ctx: CliContext): number | undefined {
  const interval = ctx.env("CMDOP_RELAY_DEVICE_INTERVAL");
  const deviceIntervalS = interval ? Number(interval) : undefined;
  if (
    deviceIntervalS !== undefined && !(Number.isInteger(deviceIntervalS) && deviceIntervalS >= 1)
  ) {
    throw new CliError(
      `CMDOP_RELAY_DEVICE_INTERVAL "${interval}" is not a whole number of seconds`,
    );
  }
  return deviceIntervalS;
}
