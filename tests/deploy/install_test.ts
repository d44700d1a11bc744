/** make install and the systemd units: the installed `cmdop` runs the README's commands from a bare PATH; systemd-analyze accepts the hardened units. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, waitFor } from "../_harness.ts";
import { needTools } from "../_tools.ts";

const skipUnits = await needTools("systemd units", ["systemd-analyze"]);
const children = new Set<Deno.ChildProcess>();

describe("make install", () => {
  let prefix: string;
  let env: Record<string, string>;

  before(async () => {
    prefix = await Deno.makeTempDir({ prefix: "cmdop-prefix-" });
    const out = await new Deno.Command("bash", {
      args: [join(ROOT, "scripts/install.sh")],
      env: { PREFIX: prefix },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    // A fresh shell: no Deno on PATH, none of this repository's variables.
    const home = await Deno.makeTempDir({ prefix: "cmdop-home-" });
    env = { PATH: `${prefix}/bin:/usr/bin:/bin`, HOME: home, CMDOP_HOME: join(home, ".cmdop") };
  });
  after(async () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    // A copy of the program and of Deno: ~110 MB.
    if (prefix) await Deno.remove(prefix, { recursive: true });
  });

  /** Runs the installed command with only `env`. */
  const cmdop = async (args: string[], extra: Record<string, string> = {}) => {
    const out = await new Deno.Command("cmdop", {
      args,
      env: { ...env, ...extra },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  };
  /** Starts the installed command and collects its stderr. */
  const start = (args: string[]) => {
    const child = new Deno.Command("cmdop", {
      args,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    children.add(child);
    let stderr = "";
    const decoder = new TextDecoder();
    child.stderr.pipeTo(
      new WritableStream({ write: (c) => void (stderr += decoder.decode(c, { stream: true })) }),
    ).catch(() => {});
    return { child, stderr: () => stderr };
  };

  it("puts a cmdop on PATH that runs the relay, an agent and the client as the README says", {
    timeoutMs: 300_000,
  }, async () => {
    const version = await cmdop(["--version"]);
    assert.equal(version.code, 0, version.stderr);
    const data = await Deno.makeTempDir({ prefix: "cmdop-relay-" });
    const relay = start(["relay", "serve", "--listen", "127.0.0.1:0", "--data", data]);
    await waitFor("the relay to listen", () => /listening on http/.test(relay.stderr()), 30_000);
    const url = /listening on (http\S+)/.exec(relay.stderr())![1];
    // Started by the command, Deno never looks for a new version of itself.
    const environ = await Deno.readTextFile(`/proc/${relay.child.pid}/environ`);
    assert.ok(environ.split("\0").includes("DENO_NO_UPDATE_CHECK=1"));

    const created = await cmdop(["relay", "workspace", "create", "prod", "--data", data, "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const ws = JSON.parse(created.stdout);
    const state = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    const agent = start([
      "agent",
      "run",
      "--server",
      url,
      "--enroll-token",
      ws.enroll_token,
      "--state",
      state,
      "--hostname",
      "web-1",
    ]);
    await waitFor("the agent to be online", () => /online as machine/.test(agent.stderr()), 30_000);

    const client = { CMDOP_SERVER: url };
    const key = await cmdop(["connect", "key", "set", ws.api_key], client);
    assert.equal(key.code, 0, key.stderr);
    const exec = await cmdop(["connect", "exec", "web-1", "--", "uname", "-s"], client);
    assert.deepEqual([exec.code, exec.stdout], [0, "Linux\n"], exec.stderr);
    const list = await cmdop(["connect", "--list", "--json"], client);
    assert.equal(JSON.parse(list.stdout)[0].hostname, "web-1");
    // The installed relay serves the share page's files (xterm.js, embedded by make gen).
    const shared = await cmdop(["connect", "share", "web-1"], client);
    assert.equal(shared.code, 0, shared.stderr);
    const page = await fetch(shared.stdout.trim(), { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="assets\/page.js">/);
    const xterm = await fetch(new URL("assets/xterm.mjs", shared.stdout.trim()));
    assert.equal(xterm.status, 200);
    assert.match(await xterm.text(), /xterm\.js authors/);
  });
});

describe("systemd units in deploy/", { skip: skipUnits }, () => {
  for (const unit of ["cmdop-relay.service", "cmdop-agent.service"]) {
    it(`${unit} passes systemd-analyze verify with no warning, and is hardened`, async () => {
      const text = await Deno.readTextFile(join(ROOT, "deploy", unit));
      for (const line of ["DynamicUser=yes", "ProtectSystem=strict", "Restart=always"]) {
        assert.ok(text.split("\n").includes(line), `${unit} has ${line}`);
      }
      assert.match(text, /^Environment=DENO_NO_UPDATE_CHECK=1/m);
      // verify checks that ExecStart's program exists: point it at a stand-in of the command.
      const dir = await Deno.makeTempDir({ prefix: "cmdop-units-" });
      const program = join(dir, "cmdop");
      await Deno.writeTextFile(program, "#!/bin/sh\n", { mode: 0o755 });
      await Deno.writeTextFile(join(dir, unit), text.replaceAll("/usr/local/bin/cmdop", program));
      const verify = await new Deno.Command("systemd-analyze", {
        args: ["verify", join(dir, unit)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const output = new TextDecoder().decode(verify.stderr) +
        new TextDecoder().decode(verify.stdout);
      assert.equal(verify.code, 0, output);
      assert.equal(output.trim(), "", "no warning either (an unknown key is only a warning)");
      const security = await new Deno.Command("systemd-analyze", {
        args: ["security", "--offline=yes", join(dir, unit)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const report = new TextDecoder().decode(security.stdout);
      const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(report);
      assert.ok(exposure, report);
      assert.ok(Number(exposure[1]) <= 4, `exposure ${exposure[1]} (systemd-analyze security)`);
    });
  }
});
