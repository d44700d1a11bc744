/** HeldTerminals: the agent's resumable terminals, found by their resume token. */
import { hashSecret, newSecret } from "../lib/secrets.ts";
import type { SessionChannel } from "./channel.ts";

/** A terminal a stream can be attached to again (`Terminal` in pty_session.ts). */
export interface Resumable {
  /** Who opened it (`OpenSession.owner`, set by the relay): only they may resume it. */
  readonly owner: string;
  /** True while no stream is attached. */
  readonly detached: boolean;
  /** The program's process id, for the log. */
  readonly pid: number;
  /** Whether a stream can start at output byte `offset`. */
  holds(offset: number): boolean;
  resize(rows: number, cols: number): void;
  /** Serves `channel` from output byte `offset`; see `Terminal.attach`. */
  attach(channel: SessionChannel, offset: number): Promise<void>;
}

/** The prefix of a resume token, so that one found in a log or a paste can be told apart. */
const RESUME_TOKEN_PREFIX = "cmu";

/**
 * Default of `agent run --resume-grace`: how long a terminal whose client vanished keeps
 * running (with up to one output window unread) before it is hung up. Long enough for a
 * laptop lid, a Wi-Fi change or a relay restart; short enough that an abandoned shell goes.
 */
export const DEFAULT_RESUME_GRACE_MS = 5 * 60_000;

/**
 * The terminals of this agent that a client may resume. Tokens are kept as SHA-256 hashes;
 * a token names one terminal and is useless to anyone but the terminal's owner.
 *
 * @example
 * ```ts
 * const held = new HeldTerminals(5 * 60_000);
 * const token = await held.add(terminal);
 * const again = await held.find(token, open.owner); // undefined: unknown, or not theirs
 * ```
 */
export class HeldTerminals {
  #byHash = new Map<string, Resumable>();

  /** `maxGraceMs`: the longest grace a client may be granted; 0 turns resuming off. */
  constructor(readonly maxGraceMs: number) {}

  /** The grace granted to a client that asks for `requestedMs`. */
  graceFor(requestedMs: number): number {
    return Math.max(0, Math.min(requestedMs, this.maxGraceMs));
  }

  /** Terminals kept without a stream: they count against the agent's session limit. */
  get detached(): number {
    let count = 0;
    for (const terminal of this.#byHash.values()) if (terminal.detached) count++;
    return count;
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** Registers `terminal`; returns its new resume token. */
  async add(terminal: Resumable): Promise<{ token: string; remove: () => void }> {
    const token = newSecret(RESUME_TOKEN_PREFIX);
    const hash = await hashSecret(token);
    this.#byHash.set(hash, terminal);
    return {
      token,
      remove: () => {
        if (this.#byHash.get(hash) === terminal) this.#byHash.delete(hash);
      },
    };
  }

  /** The terminal `token` resumes, when `owner` opened it; undefined otherwise. */
  async find(token: string, owner: string): Promise<Resumable | undefined> {
    if (!token.startsWith(`${RESUME_TOKEN_PREFIX}_`) || token.length > 100) return undefined;
    const terminal = this.#byHash.get(await hashSecret(token));
    return terminal && terminal.owner === owner ? terminal : undefined;
  }
}
