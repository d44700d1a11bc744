/** Tmux: a real terminal for end-to-end tests, on its own tmux server, driven by send-keys and read by capture-pane. */
import { MAIN } from "../_harness.ts";

/** Options of {@linkcode Tmux.start}. */
export interface TmuxOptions {
  cols: number;
  rows: number;
  /** Environment of the shell in the pane. */
  env: Record<string, string>;
  /** The pane's program; bash without start-up files by default. */
  command?: string;
}

/**
 * One tmux server with one window, on a socket of its own (`-L`), so tests
 * never touch a user's tmux and can run side by side.
 *
 * @example
 * ```ts
 * const tmux = await Tmux.start({ cols: 120, rows: 40, env: {} });
 * await tmux.type("echo hi");
 * await tmux.waitFor(/^hi$/m);
 * await tmux.kill();
 * ```
 */
export class Tmux {
  readonly socket: string;
  readonly #command: string;
  readonly #env: Record<string, string>;

  private constructor(socket: string, command: string, env: Record<string, string>) {
    this.socket = socket;
    this.#command = command;
    this.#env = env;
  }

  /** Starts the server; a test file declares tmux with `needTools` (tests/_tools.ts). */
  static async start(options: TmuxOptions): Promise<Tmux> {
    const command = options.command ?? "exec bash --norc --noprofile -i";
    const socket = `cmdop-e2e-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    const tmux = new Tmux(socket, command, options.env);
    // The server, started by this call, hands its own environment to the pane's shell.
    await tmux.run([
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      String(options.cols),
      "-y",
      String(options.rows),
      command,
    ], options.env);
    // Without a status line the pane is the whole window, so sizes read as given.
    await tmux.run(["set-option", "-g", "status", "off"]);
    await tmux.run(["set-option", "-g", "window-size", "manual"]);
    return tmux;
  }

  /** Runs a tmux command against this server; returns its stdout. */
  async run(args: string[], env?: Record<string, string>): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      env,
      stdin: "null",
    })
      .output();
    const decoder = new TextDecoder();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${decoder.decode(out.stderr).trim()}`);
    }
    return decoder.decode(out.stdout);
  }

  /**
   * A fresh pane: kills whatever runs in it (a command a failed test left behind would take the
   * next test's keys) and starts the shell again on a blank screen, and waits for its prompt.
   */
  async respawn(): Promise<void> {
    // The test's environment again (-e), and PATH, which tmux takes from the calling client.
    const env = Object.entries(this.#env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    await this.run(["respawn-pane", "-k", "-t", "0", ...env, this.#command], this.#env);
    await this.run(["clear-history", "-t", "0"]);
    // The shell's prompt alone on the screen ("bash-5.2# "): it reads keys now.
    await this.waitFor((screen) => /^[^\n]*[$#]$/.test(screen.trim()));
  }

  /** Sends keys by tmux name (`Enter`, `C-c`, `C-d`). */
  keys(...keys: string[]): Promise<string> {
    return this.run(["send-keys", "-t", "0", ...keys]);
  }

  /** Types `text` literally, then Enter. */
  async type(text: string): Promise<void> {
    await this.run(["send-keys", "-t", "0", "-l", text]);
    await this.keys("Enter");
  }

  /** The visible screen, one string per line. */
  capture(): Promise<string> {
    return this.run(["capture-pane", "-p", "-t", "0"]);
  }

  /** The pane's size as tmux sees it. */
  async size(): Promise<{ rows: number; cols: number }> {
    const [rows, cols] =
      (await this.run(["display-message", "-p", "-t", "0", "#{pane_height} #{pane_width}"]))
        .trim().split(" ").map(Number);
    return { rows, cols };
  }

  /** Resizes the window (the program in it gets SIGWINCH). */
  async resize(cols: number, rows: number): Promise<void> {
    await this.run(["resize-window", "-t", "0", "-x", String(cols), "-y", String(rows)]);
  }

  /** Waits until the screen matches `pattern`; fails with the screen's content after `timeoutMs`. */
  async waitFor(
    pattern: RegExp | ((screen: string) => boolean),
    timeoutMs = 30_000,
  ): Promise<string> {
    const test = typeof pattern === "function" ? pattern : (screen: string) => pattern.test(screen);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.capture();
      if (test(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for ${pattern}; screen:\n${screen}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Ends the server and everything running in it. */
  async kill(): Promise<void> {
    const path = await this.run(["display-message", "-p", "#{socket_path}"]).catch(() => "");
    await this.run(["kill-server"]).catch(() => {});
    // The server leaves its socket file behind; one per test run would pile up in /tmp.
    if (path.trim()) await Deno.remove(path.trim()).catch(() => {});
  }
}

/**
 * A 120x40 terminal whose shell finds `cmdop` on its PATH (a wrapper in `scratch/bin` running this
 * checkout), with `env` (the client's variables), `NO_COLOR` and `TERM=xterm-256color`.
 *
 * @example
 * ```ts
 * const tmux = await cmdopTerminal(scratch, await clientEnv(relay.url, ws.api_key));
 * await tmux.type("cmdop connect web-1");
 * ```
 */
export async function cmdopTerminal(
  scratch: string,
  env: Record<string, string>,
  command?: string,
): Promise<Tmux> {
  await Deno.mkdir(`${scratch}/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${scratch}/bin/cmdop`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet "${MAIN}" "$@"\n`,
    { mode: 0o755 },
  );
  return await Tmux.start({
    cols: 120,
    rows: 40,
    command,
    env: {
      ...env,
      NO_COLOR: "1",
      TERM: "xterm-256color",
      PATH: `${scratch}/bin:${Deno.env.get("PATH")}`,
    },
  });
}
