/** `cmdop connect cp` against a real relay and agents: files both ways, trees, stdin/stdout, 1 GiB in bounded memory, interrupts, share links and passwords. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { MachineService } from "../../gen/cmdop/v1/machine_pb.ts";
import { SessionKind, SessionService } from "../../gen/cmdop/v1/session_pb.ts";
import { encodeHeader } from "../../src/lib/files/archive_format.ts";
import { createRelayTransport } from "../../src/lib/transport.ts";
import { needTools } from "../_tools.ts";
import { scriptArgs } from "./_interrupts.ts";
import {
  clientEnv,
  killAll,
  MAIN,
  processAlive,
  type RelayProcess,
  ROOT,
  runCmdop,
  samplePeakRss,
  spawnCli,
  startAgent,
  startRelay,
  waitFor,
  type Workspace,
} from "../_harness.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** Far below the 1 GiB copied: a process that held the file would pass it. */
const STREAMING_RSS_BOUND = 300 * MIB;

/** Writes `size` bytes of a fast deterministic pattern (each MiB block numbered); returns its sha256. */
async function writePattern(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const block = new Uint8Array(MIB);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let done = 0, n = 0; done < size; n++) {
      // The block's number in its first bytes: a dropped or reordered block changes the digest.
      new DataView(block.buffer).setUint32(0, n);
      const part = block.subarray(0, Math.min(block.length, size - done));
      hash.update(part);
      let written = 0;
      while (written < part.length) written += await file.write(part.subarray(written));
      done += part.length;
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

/** Temporary files a receiver leaves while it writes (`.NAME.cmdop-XXXXXX.part`). */
async function partFiles(dir: string): Promise<string[]> {
  return (await names(dir)).filter((n) => n.endsWith(".part"));
}

const noScript = await needTools("the cp progress line test", ["script"]);

describe("cmdop connect cp", () => {
  let relay: RelayProcess;
  let ws: Workspace;
  let env: Record<string, string>;
  let agentPid = 0;
  let work = "";

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("files");
    env = await clientEnv(relay.url, ws.api_key);
    const [box] = await Promise.all([
      startAgent(relay.url, ws.enroll_token, { hostname: "files-box" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "other-box" }),
      startAgent(relay.url, ws.enroll_token, { hostname: "pw-box", password: "s3cret-pw" }),
    ]);
    agentPid = box.pid;
    work = await Deno.makeTempDir({ prefix: "cmdop-cp-" });
  });

  after(async () => {
    await killAll();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  });

  /** A fresh pair of folders: `local` for the CLI's side, `remote` for the agent's. */
  async function sides(name: string): Promise<{ local: string; remote: string }> {
    const local = join(work, name, "local");
    const remote = join(work, name, "remote");
    await Deno.mkdir(local, { recursive: true });
    await Deno.mkdir(remote, { recursive: true });
    return { local, remote };
  }

  it("copies a file both ways with its mode bits, and --json reports its sha256", async () => {
    const { local, remote } = await sides("one");
    const text = "hello from cp\n".repeat(1000);
    await Deno.writeTextFile(join(local, "script.sh"), text);
    await Deno.chmod(join(local, "script.sh"), 0o750);
    const want = createHash("sha256").update(text).digest("hex");

    const up = await runCmdop(
      ["connect", "cp", join(local, "script.sh"), `files-box:${remote}/`, "--json"],
      { env },
    );
    assert.equal(up.code, 0, up.stderr);
    const summary = JSON.parse(up.stdout);
    assert.equal(summary.sha256, want);
    assert.equal(summary.files, 1);
    assert.equal(summary.bytes, text.length);
    assert.deepEqual(summary.skipped, []);
    assert.equal(typeof summary.duration_ms, "number");
    assert.equal(await Deno.readTextFile(join(remote, "script.sh")), text);
    assert.equal((await Deno.stat(join(remote, "script.sh"))).mode! & 0o777, 0o750);

    // Back under another name: the destination is the file itself.
    const down = await runCmdop(
      ["connect", "cp", `files-box:${remote}/script.sh`, join(local, "back.sh")],
      { env },
    );
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, "");
    assert.equal(down.stderr, "", "no progress bar when stderr is not a terminal");
    assert.equal(await sha256Of(join(local, "back.sh")), want);
    assert.equal((await Deno.stat(join(local, "back.sh"))).mode! & 0o777, 0o750);
    assert.deepEqual(await partFiles(local), []);
    assert.deepEqual(await partFiles(remote), []);
  });

  it("copies 1 GiB both ways with the right sha256 in bounded agent and CLI memory", {
    timeoutMs: 240_000,
  }, async () => {
    const { local, remote } = await sides("big");
    const source = join(local, "big.bin");
    const want = await writePattern(source, GIB);
    for (
      const [args, file] of [
        [["connect", "cp", source, `files-box:${remote}/big.bin`], join(remote, "big.bin")],
        [
          ["connect", "cp", `files-box:${remote}/big.bin`, join(local, "back.bin")],
          join(
            local,
            "back.bin",
          ),
        ],
      ] as const
    ) {
      const agentPeak = samplePeakRss(agentPid);
      const cli = spawnCli([...args, "--json"], env);
      const cliPeak = samplePeakRss(cli.pid);
      const [status, stdout, stderr] = await Promise.all([
        cli.status,
        new Response(cli.stdout).text(),
        new Response(cli.stderr).text(),
      ]);
      const [agentMax, cliMax] = [await agentPeak.stop(), await cliPeak.stop()];
      assert.equal(status.code, 0, stderr);
      const summary = JSON.parse(stdout);
      assert.equal(summary.sha256, want);
      assert.equal(summary.bytes, GIB);
      assert.equal(await sha256Of(file), want, file);
      assert.ok(agentMax < STREAMING_RSS_BOUND, `agent peak ${agentMax >> 20} MiB`);
      assert.ok(cliMax < STREAMING_RSS_BOUND, `CLI peak ${cliMax >> 20} MiB`);
    }
    await Deno.remove(join(work, "big"), { recursive: true });
  });

  it("copies a tree with -r: nested folders, an empty file and folder; a symlink is skipped and reported", async () => {
    const { local, remote } = await sides("tree");
    const tree = join(local, "site");
    await Deno.mkdir(join(tree, "a", "b"), { recursive: true });
    await Deno.mkdir(join(tree, "empty-dir"));
    await Deno.writeTextFile(join(tree, "index.html"), "<h1>hi</h1>\n");
    await Deno.writeTextFile(join(tree, "a", "b", "deep.txt"), "deep\n");
    await Deno.writeTextFile(join(tree, "a", "empty.txt"), "");
    await Deno.chmod(join(tree, "a", "b"), 0o711);
    await Deno.symlink("/etc/passwd", join(tree, "link"));

    const up = await runCmdop(["connect", "cp", "-r", tree, `files-box:${remote}`], { env });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /warning: skipped "site\/link": symbolic link/);
    const copied = join(remote, "site");
    assert.deepEqual(await names(copied), ["a", "empty-dir", "index.html"]);
    assert.equal(await Deno.readTextFile(join(copied, "a", "b", "deep.txt")), "deep\n");
    assert.equal(await Deno.readTextFile(join(copied, "a", "empty.txt")), "");
    assert.deepEqual(await names(join(copied, "empty-dir")), []);
    assert.equal((await Deno.stat(join(copied, "a", "b"))).mode! & 0o777, 0o711);

    // Fetched into a folder that does not exist yet: it becomes that folder.
    const down = await runCmdop(
      ["connect", "cp", "-r", `files-box:${copied}`, join(local, "fetched"), "--json"],
      { env },
    );
    assert.equal(down.code, 0, down.stderr);
    const summary = JSON.parse(down.stdout);
    assert.equal(summary.files, 3);
    assert.equal(summary.sha256, undefined);
    assert.equal(await Deno.readTextFile(join(local, "fetched", "a", "b", "deep.txt")), "deep\n");
    assert.deepEqual(await names(join(local, "fetched")), ["a", "empty-dir", "index.html"]);
  });

  it("reads stdin for - as the source and writes stdout for - as the destination", async () => {
    const { remote } = await sides("stdio");
    const input = "line one\nline two\n".repeat(50_000);
    const up = await runCmdop(["connect", "cp", "-", `files-box:${remote}/from-stdin.txt`], {
      env,
      stdin: input,
    });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await Deno.readTextFile(join(remote, "from-stdin.txt")), input);
    const down = await runCmdop(["connect", "cp", `files-box:${remote}/from-stdin.txt`, "-"], {
      env,
    });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, input);

    const toFolder = await runCmdop(["connect", "cp", "-", `files-box:${remote}`], {
      env,
      stdin: "x",
    });
    assert.equal(toFolder.code, 1);
    assert.match(toFolder.stderr, /is a directory: name the file to write stdin to/);
  });

  it("starts a relative or ~/ remote path in the agent's home folder", async () => {
    const { local } = await sides("home");
    await Deno.writeTextFile(join(local, "h.txt"), "home\n");
    const name = `cmdop-cp-test-${crypto.randomUUID()}.txt`;
    const home = Deno.env.get("HOME")!;
    try {
      const up = await runCmdop(["connect", "cp", join(local, "h.txt"), `files-box:~/${name}`], {
        env,
      });
      assert.equal(up.code, 0, up.stderr);
      assert.equal(await Deno.readTextFile(join(home, name)), "home\n");
      const down = await runCmdop(["connect", "cp", `files-box:${name}`, "-"], { env });
      assert.equal(down.stdout, "home\n");
      const json = await runCmdop(["connect", "cp", `files-box:${name}`, "-", "--json"], { env });
      assert.equal(json.code, 1);
      assert.match(json.stderr, /--json cannot be used with - as the destination/);
    } finally {
      await Deno.remove(join(home, name)).catch(() => {});
    }
  });

  it("refuses a directory without -r, a missing remote path and a missing destination parent, naming the path", async () => {
    const { local, remote } = await sides("refusals");
    await Deno.mkdir(join(local, "dir"));
    const upDir = await runCmdop(["connect", "cp", join(local, "dir"), `files-box:${remote}`], {
      env,
    });
    assert.equal(upDir.code, 1);
    assert.match(upDir.stderr, /error: ".*\/dir" is a directory \(use -r\)/);
    assert.match(upDir.stderr, /hint: add -r/);
    await Deno.mkdir(join(remote, "rdir"));
    const downDir = await runCmdop(["connect", "cp", `files-box:${remote}/rdir`, local], { env });
    assert.equal(downDir.code, 1);
    assert.match(downDir.stderr, /is a directory \(use -r\)/);

    const missing = join(remote, "nope.txt");
    const gone = await runCmdop(["connect", "cp", `files-box:${missing}`, local, "--json"], {
      env,
    });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`error: cannot read "${missing}": no such file`));
    assert.match(gone.stderr, /hint: check the path on "files-box"/);
    assert.equal(JSON.parse(gone.stdout).exit_code, 1);

    await Deno.writeTextFile(join(local, "f.txt"), "f");
    const noParent = await runCmdop(
      ["connect", "cp", join(local, "f.txt"), `files-box:${remote}/no/such/f.txt`],
      { env },
    );
    assert.equal(noParent.code, 1);
    assert.match(noParent.stderr, new RegExp(`no such directory "${remote}/no/such"`));
    const noLocalParent = await runCmdop(
      ["connect", "cp", `files-box:${local}/f.txt`, "/no/such/x"],
      { env },
    );
    assert.equal(noLocalParent.code, 1);
    assert.match(noLocalParent.stderr, /no such directory "\/no\/such"/);
    assert.deepEqual(await partFiles(remote), []);
  });

  it("the agent refuses a hostile archive (../, an absolute path, a huge header) and writes nothing outside", async () => {
    const { remote } = await sides("hostile");
    const dest = join(remote, "dest");
    await Deno.mkdir(dest);
    const transport = createRelayTransport({ baseUrl: relay.url, bearer: ws.api_key });
    const { machines } = await createClient(MachineService, transport).listMachines({});
    const machineId = machines.find((m) => m.hostname === "files-box")!.id;
    const sessions = createClient(SessionService, transport);
    const u32 = (n: number) =>
      new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const fileRecord = (path: string) => [
      encodeHeader({ type: "file", path, mode: 0o644 }),
      u32(1),
      new Uint8Array([120]),
      u32(0),
      new Uint8Array(createHash("sha256").update("x").digest()),
      encodeHeader({ type: "end" }),
    ];
    const cases: [Uint8Array[], RegExp][] = [
      [fileRecord("../escape"), /"\.\." component/],
      [fileRecord(`${remote}/abs`), /is absolute/],
      [[u32(0xfffffff0)], /out of range/],
    ];
    for (const [archive, error] of cases) {
      let exited: (() => void) | undefined;
      const done = new Promise<void>((resolve) => exited = resolve);
      const inputs = async function* () {
        yield {
          msg: {
            case: "open" as const,
            value: {
              machineId,
              kind: SessionKind.FILE_SEND,
              file: { path: dest },
              windowBytes: 1 << 20,
            },
          },
        };
        for (const part of archive) yield { msg: { case: "data" as const, value: part } };
        yield { msg: { case: "data" as const, value: new Uint8Array(0) } };
        await done;
      };
      let exit: { code: number; error: string } | undefined;
      for await (const out of sessions.session(inputs())) {
        if (out.msg.case === "exit") {
          exit = out.msg.value;
          break;
        }
      }
      exited!();
      assert.equal(exit?.code, 1, String(error));
      assert.match(exit!.error, error);
    }
    assert.deepEqual(await names(remote), ["dest"]);
    assert.deepEqual(await names(dest), []);
    assert.deepEqual(await names(join(work, "hostile")), ["local", "remote"]);
  });

  it("leaves no file under the final name and no temporary file when interrupted", {
    timeoutMs: 180_000,
  }, async () => {
    const { local, remote } = await sides("interrupt");
    await writePattern(join(local, "big.bin"), 512 * MIB);
    for (
      const [args, receiving] of [
        [["connect", "cp", join(local, "big.bin"), `files-box:${remote}/big.bin`], remote],
        [
          ["connect", "cp", `files-box:${join(local, "big.bin")}`, join(remote, "down.bin")],
          remote,
        ],
      ] as const
    ) {
      const cli = spawnCli([...args], env);
      const output = Promise.all([
        new Response(cli.stdout).text(),
        new Response(cli.stderr).text(),
      ]);
      await waitFor("a temporary file to grow", async () => {
        for (const name of await partFiles(receiving)) {
          const size = await Deno.stat(join(receiving, name)).then((s) => s.size, () => 0);
          if (size > 0) return true;
        }
        return false;
      });
      cli.kill("SIGINT");
      const status = await cli.status;
      const [, stderr] = await output;
      assert.equal(status.code, 130, stderr);
      await waitFor(
        "the temporary file to be removed",
        async () => (await partFiles(receiving)).length === 0,
      );
      assert.ok(!(await processAlive(cli.pid)));
      assert.deepEqual((await names(receiving)).filter((n) => !n.endsWith(".bin")), []);
      assert.ok(!(await names(receiving)).includes(args.at(-1)!.split("/").at(-1)!));
    }
    await Deno.remove(join(work, "interrupt"), { recursive: true });
  });

  it("with a share link reaches only its machine, as :PATH", async () => {
    const { local, remote } = await sides("share");
    await Deno.writeTextFile(join(local, "s.txt"), "shared\n");
    const minted = await runCmdop(["connect", "share", "files-box", "--json"], { env });
    assert.equal(minted.code, 0, minted.stderr);
    const link: string = JSON.parse(minted.stdout).link;
    const stranger = { CMDOP_HOME: await Deno.makeTempDir({ prefix: "cmdop-home-" }) };
    const linkFile = join(local, "link.txt");
    await Deno.writeTextFile(linkFile, link + "\n");

    const viaEnv = await runCmdop(["connect", "cp", join(local, "s.txt"), `:${remote}/`], {
      env: { ...stranger, CMDOP_SHARE_LINK: link },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(await Deno.readTextFile(join(remote, "s.txt")), "shared\n");
    const viaFile = await runCmdop(
      ["connect", "cp", "--link-file", linkFile, `:${remote}/s.txt`, join(local, "back.txt")],
      { env: stranger },
    );
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(await Deno.readTextFile(join(local, "back.txt")), "shared\n");

    // Naming another machine: with the link file it is refused; the link's token used as a
    // credential sees its one machine only.
    const named = await runCmdop(
      ["connect", "cp", "--link-file", linkFile, join(local, "s.txt"), `other-box:${remote}/x`],
      { env: stranger },
    );
    assert.equal(named.code, 1);
    assert.match(named.stderr, /give a machine or --link-file, not both/);
    const token = link.slice(link.lastIndexOf("/") + 1);
    const asKey = { ...stranger, CMDOP_SERVER: relay.url, CMDOP_API_KEY: token };
    const other = await runCmdop(["connect", "cp", join(local, "s.txt"), `other-box:${remote}/x`], {
      env: asKey,
    });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /no machine matches/);
    const noHost = await runCmdop(["connect", "cp", join(local, "s.txt"), `:${remote}/x`], {
      env,
    });
    assert.equal(noHost.code, 1);
    assert.match(noHost.stderr, /names no machine/);
    assert.ok(!(await names(remote)).includes("x"));
  });

  it("needs the machine's password on a password-protected machine", async () => {
    const { local, remote } = await sides("password");
    await Deno.writeTextFile(join(local, "p.txt"), "protected\n");
    const args = ["connect", "cp", join(local, "p.txt"), `pw-box:${remote}/`];
    const denied = await runCmdop([...args, "--no-interactive"], { env });
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /this machine requires an attach password/);
    assert.deepEqual(await names(remote), []);
    const set = await runCmdop(["connect", "password", "set", "pw-box"], {
      env,
      stdin: "s3cret-pw\n",
    });
    assert.equal(set.code, 0, set.stderr);
    const allowed = await runCmdop([...args, "--no-interactive"], { env });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(await Deno.readTextFile(join(remote, "p.txt")), "protected\n");
  });

  it("works under the sandboxed client (deno task cmdop), which is granted the copy's local side", async () => {
    const { local, remote } = await sides("sandbox");
    await Deno.writeTextFile(join(local, "in.txt"), "sandboxed\n");
    const wrapper = join(ROOT, "scripts", "cmdop_client.sh");
    const run = (args: string[]) =>
      new Deno.Command("bash", {
        args: [wrapper, ...args],
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
        clearEnv: true,
        stdin: "null",
      }).output();
    const up = await run(["connect", "cp", join(local, "in.txt"), `files-box:${remote}/`]);
    assert.equal(up.code, 0, new TextDecoder().decode(up.stderr));
    const down = await run([
      "connect",
      "cp",
      "-q",
      `files-box:${remote}/in.txt`,
      `${local}/out.txt`,
    ]);
    assert.equal(down.code, 0, new TextDecoder().decode(down.stderr));
    assert.equal(await Deno.readTextFile(join(local, "out.txt")), "sandboxed\n");
  });

  describe("on a terminal", { skip: noScript }, () => {
    it("draws a progress line on stderr (bytes, rate), and none with -q or --json", async () => {
      const { local, remote } = await sides("progress");
      await writePattern(join(local, "p.bin"), 16 * MIB);
      const underTerminal = async (extra: string[]) => {
        const argv = [Deno.execPath(), "run", "-A", "--quiet", MAIN, "connect", "cp", ...extra];
        const out = await new Deno.Command("script", {
          args: scriptArgs([...argv, join(local, "p.bin"), `files-box:${remote}/`]),
          env: { NO_COLOR: "1", ...env },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: out.code, text: new TextDecoder().decode(out.stdout) };
      };
      const shown = await underTerminal([]);
      assert.equal(shown.code, 0, shown.text);
      assert.match(
        shown.text,
        /p\.bin {2}16\.0 MiB \/ 16\.0 MiB {2}100% {2}[\d.]+ (KiB|MiB|GiB)\/s/,
      );
      const quiet = await underTerminal(["-q"]);
      assert.equal(quiet.code, 0, quiet.text);
      assert.doesNotMatch(quiet.text, /MiB/);
      const json = await underTerminal(["--json"]);
      assert.equal(json.code, 0, json.text);
      assert.doesNotMatch(json.text, /MiB\/s/);
      assert.match(json.text, /"bytes":16777216/);
    });
  });
});
