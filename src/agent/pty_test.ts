/** Tests for openPty: real shells in real pseudo-terminals, judged by what they print. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { loginShell, openPty, type Pty, type PtyOptions } from "./pty.ts";

const encoder = new TextEncoder();
const onLinux = Deno.build.os === "linux";

/** Collects a terminal's output and waits for patterns in it. */
class Screen {
  text = "";
  /** Settles when the output stream has ended; rejects if it errored. */
  readonly ended: Promise<void>;
  #changed?: () => void;

  constructor(pty: Pty) {
    this.ended = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of pty.readable) {
        this.text += decoder.decode(chunk, { stream: true });
        this.#changed?.();
      }
      this.#changed?.();
    })();
  }

  async waitFor(pattern: RegExp, timeoutMs = 3_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${pattern}; output so far: ${JSON.stringify(this.text)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

const opened: Pty[] = [];
/** A broken terminal tends to hang rather than fail; this turns a hang into a failure. */
const within = { timeout: 5_000 };

/** An interactive /bin/sh with a plain prompt and no start-up files. */
function shell(
  options: Partial<PtyOptions> = {},
): { pty: Pty; screen: Screen; type(line: string): Promise<void> } {
  const pty = openPty({
    argv: ["/bin/sh", "-i"],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PS1: "$ " },
    rows: 24,
    cols: 80,
    ...options,
  });
  opened.push(pty);
  return { pty, screen: new Screen(pty), type: (line) => pty.write(encoder.encode(line + "\r")) };
}

/** Process state from /proc ("R", "S", "Z", ...), or undefined once the process is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

describe("openPty()", { skip: !onLinux && "pty tests run on Linux" }, () => {
  after(async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<boolean>((resolve) =>
      timer = setTimeout(() => resolve(true), 3_000)
    );
    const closed = Promise.all(opened.map((pty) => pty.close())).then(() => false);
    if (await Promise.race([closed, gaveUp])) {
      // Leave nothing running even when close() is broken.
      for (const pty of opened) {
        try {
          Deno.kill(-pty.pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
    }
    clearTimeout(timer);
  });

  it(
    "makes the terminal the shell's controlling terminal, with the shell leading its session",
    within,
    async () => {
      const { pty, screen, type } = shell();
      await type(`printf 'TTY%s PID%s\\n' "$(tty)" "$$"`);
      const [, path, pid] = await screen.waitFor(/TTY(\/dev\/pts\/\d+) PID(\d+)/);
      assert.equal(Number(pid), pty.pid);
      const stat = Deno.readTextFileSync(`/proc/${pty.pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(Number(fields[3]), pty.pid, "session id is the shell's pid");
      const ttyNr = Number(fields[4]);
      const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
      assert.equal(`/dev/pts/${minor}`, path, "controlling terminal is the one tty printed");
    },
  );

  it("starts the terminal at the requested size", within, async () => {
    const { screen, type } = shell({ rows: 37, cols: 111 });
    await type("stty size");
    await screen.waitFor(/\b37 111\r\n/);
  });

  it("resize() changes the size the running shell sees", within, async () => {
    const { pty, screen, type } = shell();
    await type("stty size");
    await screen.waitFor(/\b24 80\r\n/);
    pty.resize(50, 132);
    await type("stty size");
    await screen.waitFor(/\b50 132\r\n/);
  });

  it("rejects a terminal size outside 1 to 65535", within, () => {
    assert.throws(
      () => openPty({ argv: ["/bin/true"], rows: 0, cols: 80 }),
      /got rows "0" and cols "80"/,
    );
    const { pty } = shell();
    assert.throws(() => pty.resize(24, 70000), RangeError);
  });

  it("writing Ctrl-C interrupts a running sleep", within, async () => {
    const { pty, screen, type } = shell();
    // The marker comes from the process that becomes sleep, so Ctrl-C cannot arrive before it runs.
    await type(`sh -c 'printf "RUN%s\\n" x; exec sleep 30'`);
    await screen.waitFor(/RUNx/);
    const started = Date.now();
    await pty.write(encoder.encode("\x03"));
    await type(`printf 'AFTER%s\\n' "$?"`);
    await screen.waitFor(/AFTER130/);
    assert.ok(Date.now() - started < 3_000);
  });

  it("reports the shell's exit status and ends the output cleanly", within, async () => {
    const { pty, screen, type } = shell();
    await type("exit 7");
    assert.deepEqual(await pty.exited, { code: 7 });
    await screen.ended;
  });

  it("delivers the last output of a program that exits right away", within, async () => {
    const { pty, screen } = shell({ argv: ["/bin/sh", "-c", "printf 'bye%s' x"] });
    await screen.ended;
    assert.match(screen.text, /byex/);
    assert.deepEqual(await pty.exited, { code: 0 });
  });

  it(
    "ends the output after the shell exits even when a background job holds the terminal",
    within,
    async () => {
      const { pty, screen } = shell({
        argv: ["/bin/sh", "-c", `trap '' HUP; sleep 1000 & printf 'BG%s\\n' "$!"`],
      });
      const background = Number((await screen.waitFor(/BG(\d+)/))[1]);
      try {
        await screen.ended;
        assert.deepEqual(await pty.exited, { code: 0 });
        await pty.close();
        assert.equal(
          processState(background),
          "S",
          "a job left by a shell that exited on its own is kept",
        );
      } finally {
        Deno.kill(background, "SIGKILL");
      }
    },
  );

  it("releases its file descriptors", within, async () => {
    const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;
    const cycle = async () => {
      const { pty, screen } = shell({ argv: ["/bin/sh", "-c", "printf 'UP%s' x; sleep 1000"] });
      await screen.waitFor(/UPx/);
      await pty.close();
      await screen.ended;
    };
    await cycle();
    const before = openFds();
    for (let i = 0; i < 5; i++) await cycle();
    assert.equal(openFds(), before);
  });

  it("reports the signal that killed the program", within, async () => {
    const { pty } = shell({ argv: ["/bin/sh", "-c", "kill -KILL $$"] });
    assert.deepEqual(await pty.exited, { code: 137, signal: "SIGKILL" });
  });

  it("passes the environment through and sets TERM", within, async () => {
    const { screen, type } = shell({
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PS1: "$ ", CMDOP_PROBE: "hello world" },
      term: "vt100",
    });
    await type(`printf 'ENV%s|%s|%s\\n' "$TERM" "$CMDOP_PROBE" "\${HOME-unset}"`);
    await screen.waitFor(/ENVvt100\|hello world\|unset/);
  });

  it("sets TERM to xterm-256color by default and starts in cwd", within, async () => {
    const { screen, type } = shell({ cwd: "/tmp" });
    await type(`printf 'ENV%s|%s\\n' "$TERM" "$(pwd)"`);
    await screen.waitFor(/ENVxterm-256color\|\/tmp/);
  });

  it("write() delivers every byte when the terminal's input buffer fills", within, async () => {
    const { pty, screen, type } = shell();
    const size = 300_000;
    // Printable bytes only: in raw mode nothing is interpreted, but no byte may go missing or move.
    const data = new Uint8Array(size).map((_, i) => 33 + (i * 7 + (i >> 10)) % 94);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    await type(`stty raw -echo; printf 'READY%s\\n' x; head -c ${size} | sha256sum`);
    await screen.waitFor(/READYx/);
    await pty.write(data);
    await screen.waitFor(new RegExp(hex), 5_000);
  });

  it(
    "write() keeps the order of writes made while earlier ones wait for room",
    within,
    async () => {
      const { pty, screen, type } = shell();
      const size = 300_000;
      const data = new Uint8Array(size).map((_, i) => 33 + (i * 11 + (i >> 9)) % 94);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
      // The program reads nothing for a while: the terminal's input buffer fills, writes wait.
      await type(`stty raw -echo; printf 'READY%s\\n' y; sleep 0.3; head -c ${size} | sha256sum`);
      await screen.waitFor(/READYy/);
      // Not awaited one by one: most are made while the terminal's input buffer is full.
      const writes = [];
      for (let at = 0; at < size; at += 3_000) {
        writes.push(pty.write(data.subarray(at, at + 3_000)));
      }
      await Promise.all(writes);
      await screen.waitFor(new RegExp(hex), 5_000);
    },
  );

  it("close() hangs up the shell and leaves no process behind", within, async () => {
    const { pty, screen, type } = shell();
    await type(`sleep 1000 & printf 'BG%s\\n' "$!"`);
    const background = Number((await screen.waitFor(/BG(\d+)/))[1]);
    assert.notEqual(processState(background), undefined, "background sleep runs before close()");
    await pty.close();
    assert.deepEqual(await pty.exited, { code: 129, signal: "SIGHUP" });
    assert.ok([undefined, "Z"].includes(processState(background)), "background sleep is gone");
    await screen.ended;
  });

  it("close() kills what ignores SIGHUP once the grace period is over", within, async () => {
    const { pty, screen } = shell({
      argv: [
        "/bin/sh",
        "-c",
        `trap '' HUP; sleep 1000 & printf 'BG%s\\n' "$!"; while :; do sleep 0.05; done`,
      ],
      hangupGraceMs: 200,
    });
    const background = Number((await screen.waitFor(/BG(\d+)/))[1]);
    const started = Date.now();
    await pty.close();
    assert.ok(Date.now() - started >= 200, "SIGKILL waits for the grace period");
    assert.deepEqual(await pty.exited, { code: 137, signal: "SIGKILL" });
    assert.ok([undefined, "Z"].includes(processState(background)), "background sleep is gone");
  });

  it("close() is idempotent and later writes fail", within, async () => {
    const { pty, screen, type } = shell();
    await type("printf 'UP%s\\n' x");
    await screen.waitFor(/UPx/);
    await Promise.all([pty.close(), pty.close()]);
    await pty.close();
    await assert.rejects(pty.write(encoder.encode("echo\r")), Deno.errors.BrokenPipe);
    pty.resize(30, 90);
    await screen.ended;
  });
});

describe("loginShell()", () => {
  it("uses SHELL as a login shell when it is executable", () => {
    assert.deepEqual(loginShell({ SHELL: "/bin/sh" }, "/nonexistent"), ["/bin/sh", "-l"]);
  });

  it("falls back to the passwd entry of the current user", { skip: Deno.uid() === null }, () => {
    const passwd = Deno.makeTempFileSync();
    try {
      Deno.writeTextFileSync(
        passwd,
        `other:x:${Deno.uid()! + 1}:0::/:/bin/false\nme:x:${Deno.uid()}:0:Me:/home/me:/bin/true\n`,
      );
      assert.deepEqual(loginShell({ SHELL: "/nonexistent/shell" }, passwd), ["/bin/true", "-l"]);
      assert.deepEqual(loginShell({}, passwd), ["/bin/true", "-l"]);
    } finally {
      Deno.removeSync(passwd);
    }
  });

  it("falls back to /bin/sh when neither names a usable shell", () => {
    assert.deepEqual(loginShell({ SHELL: "relative/sh" }, "/nonexistent"), ["/bin/sh", "-l"]);
  });
});
