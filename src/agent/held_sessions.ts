/** HeldSessions: the agent's resumable sessions (terminals, commands), found by their resume token. */
import { hashSecret, newSecret } from "../lib/secrets.ts";
import type { SessionChannel } from "./channel.ts";

/** A session a stream can be attached to again (`KeptSession` in kept_session.ts). */
export interface Resumable {
  /** Its `SessionKind`: a token resumes only a session of the kind it was opened as. */
  readonly kind: number;
  /** Who opened it (`OpenSession.owner`, set by the relay): only they may resume it. */
  readonly owner: string;
  /** True while no stream is attached. */
  readonly detached: boolean;
  /** The program's process id, for the log. */
  readonly pid: number;
  /** Whether a stream can start at output byte `offset`. */
  holds(offset: number): boolean;
  resize(rows: number, cols: number): void;
  /** Serves `channel` from output byte `offset`; see `KeptSession.attach`. */
  attach(channel: SessionChannel, offset: number): Promise<void>;
}

/** The prefix of a resume token, so that one found in a log or a paste can be told apart. */
const RESUME_TOKEN_PREFIX = "cmu";

/**
 * Default of `agent run --resume-grace`: how long a terminal or command whose client vanished
 * keeps running (with up to one output window unread) before it is hung up. Long enough for a
 * laptop lid, a Wi-Fi change or a relay restart; short enough that an abandoned shell goes.
 */
export const DEFAULT_RESUME_GRACE_MS = 5 * 60_000;

/**
 * The sessions of this agent that a client may resume. Tokens are kept as SHA-256 hashes;
 * a token names one session and is useless to anyone but the session's owner.
 *
 * @example
 * ```ts
 * const held = new HeldSessions(5 * 60_000);
 * const { token } = await held.add(session);
 * const again = await held.find(token, open.owner, open.kind); // undefined: unknown, or not theirs
 * ```
 */
export class HeldSessions {
  #byHash = new Map<string, Resumable>();

  /** `maxGraceMs`: the longest grace a client may be granted; 0 turns resuming off. */
  constructor(readonly maxGraceMs: number) {}

  /** The grace granted to a client that asks for `requestedMs`. */
  graceFor(requestedMs: number): number {
    return Math.max(0, Math.min(requestedMs, this.maxGraceMs));
  }

  /** Sessions kept without a stream: they count against the agent's session limit. */
  get detached(): number {
    let count = 0;
    for (const terminal of this.#byHash.values()) if (terminal.detached) count++;
    return count;
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** Registers `session`; returns its new resume token. */
  async add(session: Resumable): Promise<{ token: string; remove: () => void }> {
    const token = newSecret(RESUME_TOKEN_PREFIX);
    const hash = await hashSecret(token);
    this.#byHash.set(hash, session);
    return {
      token,
      remove: () => {
        if (this.#byHash.get(hash) === session) this.#byHash.delete(hash);
      },
    };
  }

  /** The session `token` resumes, when `owner` opened it as `kind`; undefined otherwise. */
  async find(token: string, owner: string, kind: number): Promise<Resumable | undefined> {
    if (!token.startsWith(`${RESUME_TOKEN_PREFIX}_`) || token.length > 100) return undefined;
    const session = this.#byHash.get(await hashSecret(token));
    return session && session.owner === owner && session.kind === kind ? session : undefined;
  }
}
