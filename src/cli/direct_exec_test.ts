import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CliContext } from "./context.ts";
import {
  type DirectExec,
  operandsOfCommander,
  parseDirectExec,
  withDoubleDash,
} from "./direct_exec.ts";
import { globalsOf } from "./command_options.ts";

/** What the command tree itself hands to exec for `argv`, with exec's action swapped for a probe. */
async function viaCommander(argv: string[]): Promise<DirectExec> {
  const { buildProgram } = await import("./program.ts");
  const sink = { write: () => Promise.resolve(), isTerminal: () => false, size: () => undefined };
  const ctx = { stdout: sink, stderr: sink } as unknown as CliContext;
  const program = buildProgram(ctx, {});
  const connect = program.commands.find((c) => c.name() === "connect")!;
  const exec = connect.commands.find((c) => c.name() === "exec")!;
  let seen: DirectExec | undefined;
  exec.action((...args: unknown[]) => {
    const [host, cmd, opts, command] = args as [
      string | undefined,
      string[],
      { timeout: string; shell?: boolean },
      never,
    ];
    seen = {
      globals: globalsOf(command),
      options: {
        ...operandsOfCommander(host, cmd, argv),
        timeout: opts.timeout,
        shell: opts.shell === true,
        linkFile: (command as { optsWithGlobals(): { linkFile?: string } }).optsWithGlobals()
          .linkFile,
      },
    };
  });
  await program.parseAsync(argv, { from: "user" });
  return seen!;
}

const SAME_AS_COMMANDER = [
  ["connect", "exec", "web", "--", "true"],
  ["connect", "exec", "web", "true"],
  ["connect", "exec", "web", "echo", "hi", "--", "-n", "x"],
  ["connect", "exec", "db-primary", "--json", "--", "sh", "-c", "exit 3"],
  ["connect", "exec", "web-1", "-k", "cmk_wrong", "--", "true"],
  ["connect", "exec", "--api-key=cmk_a", "web", "-s", "127.0.0.1:1", "--", "true"],
  ["connect", "exec", "web", "--workspace", "prod", "-q", "--", "true"],
  ["connect", "exec", "web", "--no-interactive", "--timeout", "1", "--", "sleep", "5"],
  ["connect", "exec", "web", "--timeout=0", "--timeout", "9", "--", "true"],
  ["connect", "exec", "https://relay.example/s/cms_abc", "-q", "--", "echo", "ok"],
  ["connect", "exec", "web", "--", "--json"],
  ["connect", "exec", "web", "--shell", "--", "ps aux | grep x"],
  ["connect", "exec", "web", "--shell", "echo", "$HOME"],
  ["connect", "exec", "--link-file", "link.txt", "--", "uname", "-a"],
  ["connect", "exec", "--link-file=link.txt", "--json", "--", "true"],
  ["connect", "exec", "--", "echo", "from", "CMDOP_SHARE_LINK"],
  ["connect", "exec", "web", "--link-file", "link.txt", "--", "true"],
];

describe("parseDirectExec()", () => {
  it("reads the plain exec forms exactly as the command tree does", async () => {
    for (const argv of SAME_AS_COMMANDER) {
      assert.deepEqual(parseDirectExec(argv), await viaCommander(argv), argv.join(" "));
    }
  });

  it("leaves everything else to commander", () => {
    for (
      const argv of [
        ["connect", "exec", "web", "--help"],
        ["connect", "exec", "web", "ls", "-la"],
        ["connect", "exec", "web", "-kcmk_a", "--", "true"],
        ["connect", "exec", "web", "--timeout", "--", "true"],
        ["connect", "exec", "web", "-k"],
        ["connect", "exec", "web", "--"],
        ["connect", "exec"],
        ["connect", "--json", "exec", "web", "--", "true"],
        ["connect", "web"],
        ["--version"],
      ]
    ) {
      assert.equal(parseDirectExec(argv), undefined, argv.join(" "));
    }
  });
});

describe("withDoubleDash()", () => {
  it("puts -- where the remote command starts, after the host and cmdop's flags", () => {
    assert.equal(
      withDoubleDash(["connect", "exec", "web", "uname", "-a"]),
      "cmdop connect exec web -- uname -a",
    );
    assert.equal(
      withDoubleDash([
        "connect",
        "exec",
        "-k",
        "cmk_a",
        "web",
        "--timeout",
        "5",
        "ls",
        "-la",
        "a b",
      ]),
      "cmdop connect exec -k cmk_a web --timeout 5 -- ls -la 'a b'",
    );
  });

  it("has nothing to say when -- is there or no host was given", () => {
    assert.equal(withDoubleDash(["connect", "exec", "web", "--", "ls", "-la"]), undefined);
    assert.equal(withDoubleDash(["connect", "exec", "-a", "web"]), undefined);
    assert.equal(withDoubleDash(["connect", "--list", "-x"]), undefined);
  });
});
