/** An attached terminal across a 20 s blackhole of the client's link: the shell lives, the output arrives whole (network namespaces, tmux). */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { createWorkspace, processAlive, waitFor } from "../_harness.ts";
import { needTools } from "../_tools.ts";
import { cmdopTerminal, type Tmux } from "../e2e/_tmux.ts";
import {
  ADDR,
  createTopology,
  namespacesUnavailable,
  type NsProcess,
  type Topology,
} from "./_netns.ts";

/** The text `cat` sends through the terminal: 100 MB unless `CMDOP_TEST_RESUME_MB` says. */
const CAT_MB = Number(Deno.env.get("CMDOP_TEST_RESUME_MB") ?? "100");
const BLACKHOLE_MS = 20_000;
const RELAY_PORT = 4790;

const missingTools = await needTools("resuming across a blackhole", [
  "ip",
  "nft",
  "tmux",
  "top",
  "base64",
]);
const noNamespaces = missingTools ?? await namespacesUnavailable();
if (noNamespaces && !missingTools && Deno.env.get("CI") === "true") {
  throw new Error(`resume fault tests cannot make network namespaces: ${noNamespaces}`);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("a terminal across a blackhole of the client's link", { skip: noNamespaces }, () => {
  let net: Topology;
  let relay: NsProcess;
  let agent: NsProcess;
  let tmux: Tmux;
  let scratch: string;
  let log: string;
  /** A text file of CAT_MB and its sha256 with the line ends a terminal gives them. */
  const file = { path: "", sha: "" };

  const tails = () =>
    [["relay", relay], ["agent", agent]].map(([name, p]) =>
      `\n--- ${name}:\n${
        (p as NsProcess)?.stderr().trimEnd().split("\n").slice(-40).join("\n") ?? ""
      }`
    ).join("");

  /** Everything the pane was sent so far. */
  const paneLog = () => Deno.readFile(log).catch(() => new Uint8Array());

  before(async () => {
    net = await createTopology();
    scratch = await Deno.makeTempDir({ prefix: "cmdop-resume-net-" });
    log = `${scratch}/pane.log`;
    // Base64 lines of random bytes: text a terminal passes unchanged but for its line ends.
    file.path = `${scratch}/big.txt`;
    const made = await new Deno.Command("sh", {
      args: [
        "-c",
        `head -c ${Math.ceil(CAT_MB * 750_000)} /dev/urandom | base64 -w 76 > "${file.path}"`,
      ],
    }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    file.sha = await sha256(await Deno.readFile(file.path));

    const dataDir = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    relay = net.spawnCmdop("relay", [
      "relay",
      "serve",
      "--listen",
      `${ADDR.relay}:${RELAY_PORT}`,
      "--data",
      dataDir,
    ]);
    await waitFor("the relay to listen", () => /listening on/.test(relay.stderr()), 30_000);
    const ws = await createWorkspace(dataDir, "resume");
    const state = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    agent = net.spawnCmdop("agent", [
      "agent",
      "run",
      "--server",
      `http://${ADDR.relay}:${RELAY_PORT}`,
      "--enroll-token",
      ws.enroll_token,
      "--state",
      state,
      "--hostname",
      "web-1",
      "--resume-grace",
      "2m",
    ]);
    await waitFor("the agent online", () => /online as machine/.test(agent.stderr()), 30_000);

    // The pane's shell, and so the CLI, runs in the CLI's namespace: its link is the one cut.
    tmux = await cmdopTerminal(scratch, {
      CMDOP_SERVER: `http://${ADDR.relay}:${RELAY_PORT}`,
      CMDOP_API_KEY: ws.api_key,
      CMDOP_HOME: await Deno.makeTempDir({ prefix: "cmdop-home-" }),
    }, `exec ip netns exec ${net.ns.cli} bash --norc --noprofile -i`);
    await tmux.run(["pipe-pane", "-t", "0", `cat >> ${log}`]);
    await tmux.type("cmdop connect web-1");
    await tmux.waitFor(/attached to "web-1"/, 60_000);
  }, 240_000);

  after(async () => {
    await tmux?.kill();
    await agent?.kill();
    await relay?.kill();
    await net?.destroy();
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  });

  /** The remote shell's process id (the agent runs on this machine, in its own namespace). */
  async function shellPid(): Promise<number> {
    await tmux.type("echo SHELL-PID=$$");
    return Number(/SHELL-PID=(\d+)/.exec(await tmux.waitFor(/SHELL-PID=\d+/))![1]);
  }

  it(
    `carries a ${CAT_MB} MB cat whole across a ${BLACKHOLE_MS / 1000} s blackhole, the shell kept`,
    {
      timeoutMs: 600_000,
    },
    async () => {
      const pid = await shellPid();
      const startAt = (await paneLog()).length;
      await tmux.type(`printf 'BEGIN-%s\\n' cat; cat ${file.path}; printf 'END-%s\\n' cat`);
      await waitFor(
        "a tenth of the file on the screen",
        async () => (await paneLog()).length - startAt > CAT_MB * 100_000,
        120_000,
      );
      const heal = await net.blackhole("cli");
      await new Promise((resolve) => setTimeout(resolve, BLACKHOLE_MS));
      await heal();
      await waitFor(
        "the end of the file on the screen",
        async () => new TextDecoder().decode((await paneLog()).slice(-4096)).includes("END-cat"),
        300_000,
      ).catch((error) => {
        throw new Error(`${error.message}${tails()}`);
      });
      const text = new TextDecoder().decode((await paneLog()).slice(startAt));
      const begin = text.indexOf("BEGIN-cat");
      // Less the reconnecting notice, drawn over the last row and wiped again (cursor saved and
      // restored around it), and the carriage returns of the terminal's line ends.
      const body = text.slice(text.indexOf("\n", begin) + 1, text.lastIndexOf("END-cat"))
        // deno-lint-ignore no-control-regex -- the notice is escape sequences by design
        .replace(/\x1b7\x1b\[\d+;1H\x1b\[2K(\x1b\[7m[^\x1b]*\x1b\[0m)?\x1b8/g, "")
        .replaceAll("\r", "");
      const want = await Deno.readTextFile(file.path);
      let at = 0;
      while (at < want.length && want[at] === body[at]) at++;
      const where = at < want.length || body.length !== want.length
        ? ` first difference at byte ${at}: ${JSON.stringify(body.slice(at - 20, at + 120))}`
        : "";
      assert.equal(
        await sha256(new TextEncoder().encode(body)),
        file.sha,
        `the file arrived whole and once (${body.length} bytes of ${want.length})${where}${tails()}`,
      );
      assert.ok(await processAlive(pid), `the remote shell ${pid} was kept`);
    },
  );

  it(`shows top again after a ${BLACKHOLE_MS / 1000} s blackhole, and the shell answers`, {
    timeoutMs: 300_000,
  }, async () => {
    const pid = await shellPid();
    await tmux.type("top -d 0.5");
    await tmux.waitFor(/load average/);
    const heal = await net.blackhole("cli");
    await new Promise((resolve) => setTimeout(resolve, BLACKHOLE_MS));
    await heal();
    // top draws again (it updates twice a second), and the reconnecting notice, if any, is gone.
    await tmux.waitFor(
      (screen) => /load average/.test(screen) && !/reconnecting/.test(screen),
      120_000,
    )
      .catch((error) => {
        throw new Error(`${error.message}${tails()}`);
      });
    await tmux.keys("q");
    // Typed only once the shell's prompt is back: top discards typeahead as it leaves.
    await tmux.waitFor((screen) => /[#$]\s*$/.test(screen.trimEnd().split("\n").at(-1) ?? ""));
    await tmux.type("echo after-top-$((5*5))");
    await tmux.waitFor(/^after-top-25\s*$/m, 60_000).catch((error) => {
      throw new Error(`${error.message}${tails()}`);
    });
    assert.ok(await processAlive(pid), `the remote shell ${pid} was kept`);
  });
});
