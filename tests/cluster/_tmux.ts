/** A real terminal for attach tests: a private tmux server, keys in, screen text out. */

/** One tmux pane running one command. */
export interface TmuxPane {
  /** Types text; `Enter` and other key names go as separate arguments. */
  sendKeys(...keys: string[]): Promise<void>;
  /** The visible screen as text. */
  screen(): Promise<string>;
  /** Waits until the screen matches. */
  waitForScreen(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for the command to end; resolves its exit status. */
  exitStatus(timeoutMs?: number): Promise<number>;
  kill(): Promise<void>;
}

async function tmux(socket: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", {
    args: ["-L", socket, "-f", "/dev/null", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `argv` with `env` in a new 120x30 tmux session on its own server
 * socket. The exit status goes to a file: tmux 3.3 does not always report a
 * dead pane's status.
 */
export async function startInTmux(argv: string[], env: Record<string, string>): Promise<TmuxPane> {
  const socket = `cmdop-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const statusFile = await Deno.makeTempFile({ prefix: "cmdop-tmux-status-" });
  const command = ["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]
    .map(shellQuote).join(" ") + `; echo $? > ${shellQuote(statusFile)}; sleep 60`;
  await tmux(socket, ["new-session", "-d", "-s", "main", "-x", "120", "-y", "30", command]);
  const pane: TmuxPane = {
    async sendKeys(...keys) {
      await tmux(socket, ["send-keys", "-t", "main", ...keys]);
    },
    screen: () => tmux(socket, ["capture-pane", "-p", "-t", "main"]),
    async waitForScreen(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await pane.screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) {
          throw new Error(`terminal never showed ${pattern}; it shows:\n${text}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async exitStatus(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = (await Deno.readTextFile(statusFile)).trim();
        if (status !== "") return Number(status);
        if (Date.now() > deadline) throw new Error("the terminal's command did not end in time");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      await tmux(socket, ["kill-server"]).catch(() => {});
      await Deno.remove(statusFile).catch(() => {});
    },
  };
  return pane;
}
