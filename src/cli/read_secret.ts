/** readSecret: a password from a never-echoed prompt, or from stdin when it is not a terminal. */
import type { CliContext } from "./context.ts";
import { CliError } from "./errors.ts";

/** Options of {@linkcode readSecret}. */
export interface ReadSecretOptions {
  /** The prompt, e.g. `Password for web-1:`. */
  prompt: string;
  /** False with --no-interactive / --json: never prompt. */
  interactive: boolean;
  /** What is being read, for errors: `the password of "web-1"`. */
  what: string;
  /** The flag or command to suggest when nothing can be read. */
  hint: string;
}

/**
 * Reads a secret: all of stdin (one trailing newline dropped) when stdin is not a
 * terminal, else a prompt that echoes nothing. With a terminal and `interactive` false
 * there is nothing to read: a clear error, as is an empty secret.
 *
 * @example
 * ```ts
 * const password = await readSecret(ctx, { prompt: "Password:", interactive: true, what: "the password", hint: "pipe it on stdin" });
 * ```
 */
export async function readSecret(ctx: CliContext, options: ReadSecretOptions): Promise<string> {
  let secret: string;
  if (!ctx.stdin.isTerminal()) {
    secret = (await readAllStdin(ctx)).replace(/\r?\n$/, "");
    if (secret === "") {
      throw new CliError(`${options.what} read from stdin is empty`, { hint: options.hint });
    }
  } else if (!options.interactive) {
    throw new CliError(`${options.what} is needed and --no-interactive forbids asking for it`, {
      hint: options.hint,
    });
  } else {
    secret = await promptHidden(options.prompt);
    if (secret === "") throw new CliError(`${options.what} is empty`);
  }
  return secret;
}

/** A prompt that shows nothing as the user types (not even stars, which would give the length away). */
export async function promptHidden(message: string): Promise<string> {
  const { password } = await import("@inquirer/prompts");
  return await password({ message, mask: false });
}

/** Everything on stdin as text. */
export async function readAllStdin(ctx: CliContext): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of ctx.stdin.readable) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}
