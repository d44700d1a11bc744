/** The relay's stated limits (connections, timeouts, bodies) and how a connection over them is refused. */

/** Connection limits of one relay process; see {@linkcode defaultConnectionLimits}. */
export interface ConnectionLimits {
  /** From accept until a request's headers have arrived (slow-loris, silent sockets). */
  headerTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  idleTimeoutMs: number;
  /** The whole body of a unary call or a form, from its headers on; streams are exempt. */
  bodyTimeoutMs: number;
  /** Open connections in all; past it new ones are refused. */
  maxConnections: number;
  /** Open connections from one source address. */
  maxConnectionsPerSource: number;
}

/** Header timeout: a real client sends its headers within milliseconds. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** Idle keep-alive connections: the CLI reuses one within a command, not across minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * A unary call's or form's body (at most 64 KiB, a few short fields: milliseconds for any
 * real client, seconds on the slowest link): one trickled a byte at a time, which no idle
 * timeout ends, holds its connection and buffer no longer than this.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/**
 * Per source: a NAT or office egress can carry many agents (each holds one
 * connection, plus one per running session), so it is generous; a proxy in
 * front of the relay makes every client one source — raise it there.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 4096;

/** Largest unary request (Connect `readMaxBytes`): every unary request is a few short fields. */
export const MAX_UNARY_MESSAGE_BYTES = 64 * 1024;
/**
 * Largest message of a streaming request, refused from its length prefix
 * before it is buffered: an agent's output frame carries up to 1 MiB of data
 * (see coalesce.ts) plus its envelope, and a session's open frame up to
 * 256 KiB of argv; 4 MiB leaves room for both and keeps a 2^32 prefix out.
 */
export const MAX_STREAM_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Largest body of the plain HTTP routes (OAuth endpoints, the /device form). */
export const MAX_FORM_BODY_BYTES = 16 * 1024;

/**
 * Limits from the descriptor budget: 90 % of the soft RLIMIT_NOFILE minus a
 * reserve for the store, the bus and dial-outs, so the cap is met before the
 * kernel says EMFILE.
 *
 * @example
 * ```ts
 * const limits = { ...defaultConnectionLimits(), headerTimeoutMs: 5_000 };
 * ```
 */
export function defaultConnectionLimits(): ConnectionLimits {
  const fds = readFdLimit() ?? 1024;
  return {
    headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_MS,
    idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
    bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
    maxConnections: Math.max(16, Math.floor(fds * 0.9) - 64),
    maxConnectionsPerSource: DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
  };
}

/**
 * The soft limit on open files of this process (Linux `/proc/self/limits`);
 * `undefined` where it cannot be read or is unlimited.
 *
 * @example
 * ```ts
 * const fds = readFdLimit() ?? 1024;
 * ```
 */
export function readFdLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const match = /^Max open files\s+(\d+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const REFUSED_TEXT = "the relay is at its connection limit\n";
const REFUSED = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nconnection: close\r\n" +
    `retry-after: 5\r\ncontent-length: ${REFUSED_TEXT.length}\r\n\r\n${REFUSED_TEXT}`,
);

/** How the accept loop turns away a connection, and lives through running out of descriptors. */
export interface AcceptRefusal {
  /** Answers 503 (plain TCP) or just closes, and logs the reason at most once a second. */
  refuse(conn: Deno.Conn, reason: string, tls: boolean): void;
  /** After accept() failed: on EMFILE frees the reserve descriptor so the next accept can shed one client. */
  onAcceptError(error: unknown): Promise<void>;
  /** False (and the connection closed) for the client accepted with the reserve descriptor. */
  admit(conn: Deno.Conn): boolean;
  dispose(): void;
}

/**
 * Refusals for an accept loop. It holds one spare descriptor (/dev/null): when
 * accept() fails with "Too many open files" the waiting client would stay in
 * the backlog and be retried in a busy loop, so the spare is closed, that
 * client accepted and closed at once, and the spare taken back.
 *
 * @example
 * ```ts
 * const refusal = acceptRefusal(console.error);
 * refusal.refuse(conn, "too many connections", false);
 * ```
 */
export function acceptRefusal(log: (message: string) => void): AcceptRefusal {
  let reserve: Deno.FsFile | undefined = openReserve();
  let lastLogMs = 0;
  let suppressed = 0;
  let shedding = false;
  const note = (message: string) => {
    const now = Date.now();
    if (now - lastLogMs < 1000) {
      suppressed++;
      return;
    }
    const more = suppressed > 0 ? ` (and ${suppressed} more refused since the last note)` : "";
    log(`${message}${more}`);
    lastLogMs = now;
    suppressed = 0;
  };
  const close = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  return {
    refuse(conn, reason, tls) {
      note(`connection from ${(conn.remoteAddr as Deno.NetAddr).hostname} refused: ${reason}`);
      if (tls) return close(conn);
      // One small write to a fresh socket fits its send buffer: it does not wait on the peer.
      conn.write(REFUSED).catch(() => {}).finally(() => close(conn));
    },
    async onAcceptError(error) {
      const emfile = error instanceof Error &&
        /too many open files|os error 24/i.test(error.message);
      if (!emfile) {
        note(`accept failed: ${(error as Error)?.message ?? error}`);
        await new Promise((r) => setTimeout(r, 10));
        return;
      }
      note("out of file descriptors: refusing new connections until some close");
      if (reserve) {
        reserve.close();
        reserve = undefined;
        shedding = true;
      } else {
        // No spare to free: wait for connections to close rather than spin.
        reserve = openReserve();
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    admit(conn) {
      if (!shedding) return true;
      shedding = false;
      close(conn);
      reserve = openReserve();
      return false;
    },
    dispose() {
      reserve?.close();
      reserve = undefined;
    },
  };
}

function openReserve(): Deno.FsFile | undefined {
  try {
    return Deno.openSync("/dev/null");
  } catch {
    return undefined;
  }
}
