/** The client's sandbox: under `deno task cmdop` it reaches CMDOP_HOME, the network and its variables, nothing else. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  killAll,
  type RelayProcess,
  ROOT,
  startAgent,
  startRelay,
  type Workspace,
} from "../_harness.ts";

const WRAPPER = join(ROOT, "scripts", "cmdop_client.sh");

/** What a program under the client's grant tries, and what it reports for each attempt. */
const PROBE = `
const outcome = async (fn) => { try { await fn(); return "allowed"; } catch (e) { return e.name; } };
const [home, outside] = [Deno.env.get("CMDOP_HOME"), Deno.args[0]];
console.log(JSON.stringify({
  readHome: await outcome(() => Deno.readTextFile(home + "/inside.txt")),
  writeHome: await outcome(() => Deno.writeTextFile(home + "/new.txt", "x")),
  readOutside: await outcome(() => Deno.readTextFile(outside + "/secret.txt")),
  writeOutside: await outcome(() => Deno.writeTextFile(outside + "/planted.txt", "x")),
  readSibling: await outcome(() => Deno.readTextFile(home + "2/secret.txt")),
  symlinkOut: await outcome(() => Deno.symlink(outside + "/secret.txt", home + "/link")),
  run: await outcome(() => new Deno.Command("true").output()),
  ffi: await outcome(() => Deno.dlopen("libc.so.6", {})),
  envPath: Deno.env.get("PATH") ?? "unset",
}));
`;

/** Stands in for main.ts under `connect cp SOURCE DESTINATION`: what the grant lets it touch. */
const COPY_PROBE = `
const outcome = async (fn) => { try { await fn(); return "allowed"; } catch (e) { return e.name; } };
const [source, destination] = Deno.args.slice(-2);
const local = (p) => p !== "-" && (!p.includes(":") || p.slice(0, p.indexOf(":")).includes("/"));
const seen = {};
if (local(source)) {
  seen.readSource = await outcome(() => Deno.readTextFile(source));
  seen.readBeside = await outcome(() => Deno.readTextFile(source + ".beside"));
  seen.writeSource = await outcome(() => Deno.writeTextFile(source, "x"));
}
if (local(destination)) {
  seen.writeInside = await outcome(() => Deno.writeTextFile(destination + "/.part", "x"));
  seen.writeAbove = await outcome(() => Deno.writeTextFile(destination + "/../planted", "x"));
}
console.log(JSON.stringify(seen));
`;

/** A copy of the real wrapper beside `program`, standing in for main.ts: same flags, other program. */
async function wrapperFor(program: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "cmdop-sandbox-root-" });
  await Deno.mkdir(join(root, "scripts"));
  for (const file of ["cmdop_client.sh", "client_env.json", "deno"]) {
    await Deno.copyFile(join(ROOT, "scripts", file), join(root, "scripts", file));
  }
  await Deno.symlink(join(ROOT, ".tools"), join(root, ".tools")).catch(() => {});
  await Deno.writeTextFile(join(root, "deno.json"), "{}\n");
  await Deno.writeTextFile(join(root, "main.ts"), program);
  return join(root, "scripts", "cmdop_client.sh");
}

async function runWrapper(
  wrapper: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command("bash", {
    args: [wrapper, ...args],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

describe("the client sandbox", () => {
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    relay = await startRelay();
    ws = await relay.createWorkspace("sandbox");
    await startAgent(relay.url, ws.enroll_token, { hostname: "sandboxed-target" });
  });
  after(killAll);

  it("denies files outside CMDOP_HOME, subprocesses and FFI under the wrapper's exact grant", async () => {
    // The real wrapper, copied beside a probe standing in for main.ts: same flags, other program.
    const wrapper = await wrapperFor(PROBE);
    const base = await Deno.makeTempDir({ prefix: "cmdop-sandbox-" });
    const home = join(base, "home");
    const outside = join(base, "outside");
    for (const dir of [home, outside, `${home}2`]) await Deno.mkdir(dir);
    await Deno.writeTextFile(join(home, "inside.txt"), "ok");
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    await Deno.writeTextFile(`${home}2/secret.txt`, "secret");

    const r = await runWrapper(wrapper, [outside], {
      CMDOP_HOME: home,
      HOME: base,
    });
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout);
    assert.equal(seen.readHome, "allowed");
    assert.equal(seen.writeHome, "allowed");
    assert.equal(seen.readOutside, "NotCapable");
    assert.equal(seen.writeOutside, "NotCapable");
    assert.equal(seen.readSibling, "NotCapable");
    assert.equal(seen.symlinkOut, "NotCapable");
    assert.equal(seen.run, "NotCapable");
    assert.equal(seen.ffi, "NotCapable");
    assert.equal(seen.envPath, "unset");
    await assert.rejects(Deno.stat(join(outside, "planted.txt")), Deno.errors.NotFound);
  });

  it("grants cp its local source to read and its destination folder to write, nothing more", async () => {
    const wrapper = await wrapperFor(COPY_PROBE);
    const base = await Deno.makeTempDir({ prefix: "cmdop-sandbox-cp-" });
    const env = { CMDOP_HOME: join(base, "home"), HOME: base };
    const source = join(base, "src", "report.txt");
    const folder = join(base, "downloads");
    await Deno.mkdir(join(base, "src"));
    await Deno.mkdir(folder);
    await Deno.writeTextFile(source, "report");
    await Deno.writeTextFile(`${source}.beside`, "not named");

    const upload = await runWrapper(wrapper, ["connect", "cp", source, "web-1:/tmp/"], env);
    assert.equal(upload.code, 0, upload.stderr);
    assert.deepEqual(JSON.parse(upload.stdout), {
      readSource: "allowed",
      readBeside: "NotCapable",
      writeSource: "NotCapable",
    });
    const download = await runWrapper(
      wrapper,
      ["connect", "cp", "-r", "--workspace", "w", "web-1:/var/log", folder],
      env,
    );
    assert.equal(download.code, 0, download.stderr);
    assert.deepEqual(JSON.parse(download.stdout), {
      writeInside: "allowed",
      writeAbove: "NotCapable",
    });
    await assert.rejects(Deno.stat(join(base, "planted")), Deno.errors.NotFound);
  });

  it("is enough for the real client to list, exec and store a key", async () => {
    const home = await Deno.makeTempDir({ prefix: "cmdop-sandbox-home-" });
    const env = { CMDOP_HOME: home, CMDOP_SERVER: relay.url };
    const set = await runWrapper(WRAPPER, ["connect", "key", "set", ws.api_key], env);
    assert.equal(set.code, 0, set.stderr);
    const list = await runWrapper(WRAPPER, ["connect", "--list", "--json"], env);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(JSON.parse(list.stdout)[0].hostname, "sandboxed-target");
    const exec = await runWrapper(
      WRAPPER,
      ["connect", "exec", "sandboxed-target", "--", "sh", "-c", "echo from-remote; exit 5"],
      env,
    );
    assert.equal(exec.stdout, "from-remote\n");
    assert.equal(exec.code, 5);
  });

  it("lets the real client read a share link from --link-file, or from CMDOP_SHARE_LINK", async () => {
    const member = { CMDOP_HOME: await Deno.makeTempDir(), CMDOP_SERVER: relay.url };
    const shared = await runWrapper(WRAPPER, ["connect", "share", "sandboxed-target"], {
      ...member,
      CMDOP_API_KEY: ws.api_key,
    });
    assert.equal(shared.code, 0, shared.stderr);
    const link = shared.stdout.trim();
    // The file sits outside CMDOP_HOME: the wrapper grants that one file, as it does CMDOP_CA_FILE.
    const file = join(await Deno.makeTempDir({ prefix: "cmdop-sandbox-link-" }), "link.txt");
    await Deno.writeTextFile(file, `${link}\n`, { mode: 0o600 });
    const stranger = { CMDOP_HOME: await Deno.makeTempDir({ prefix: "cmdop-sandbox-home-" }) };
    for (const flag of [["--link-file", file], [`--link-file=${file}`]]) {
      const r = await runWrapper(
        WRAPPER,
        ["connect", "exec", ...flag, "--", "echo", "via-file"],
        stranger,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "via-file\n");
    }
    const viaEnv = await runWrapper(WRAPPER, ["connect", "exec", "--", "echo", "via-env"], {
      ...stranger,
      CMDOP_SHARE_LINK: link,
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(viaEnv.stdout, "via-env\n");
  });
});
