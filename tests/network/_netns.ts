/** Network namespaces for fault tests: CLI, relay and agent each in its own, joined by veth pairs, with blackholes and rate limits on demand. */
import { MAIN } from "../_harness.ts";

const DENO = Deno.execPath();

/**
 * Addresses exist only inside the namespaces made here. The relay listens on
 * its agent-side address; the CLI's namespace routes to it through its own
 * veth pair, so each side has a link of its own to cut.
 */
export const ADDR = {
  relay: "10.231.1.1",
  agent: "10.231.1.2",
  relayCliSide: "10.231.2.1",
  cli: "10.231.2.2",
} as const;

/** The three hosts of a fault test. */
export type Host = "cli" | "relay" | "agent";

/** A started process inside a namespace. */
export interface NsProcess {
  child: Deno.ChildProcess;
  stderr(): string;
  kill(): Promise<void>;
}

/** CLI, relay and agent namespaces for one test run, and the faults to put between them. */
export interface Topology {
  ns: Record<Host, string>;
  /** Runs a program inside a namespace to its end; throws with its stderr when it fails. */
  run(host: Host, program: string, args: string[]): Promise<string>;
  /** Starts `cmdop ARGS` inside a namespace, its stderr collected. */
  spawnCmdop(host: Host, args: string[], env?: Record<string, string>): NsProcess;
  /** Starts a Deno script (`deno run -A SCRIPT ARGS`) inside a namespace, its stderr collected. */
  spawnScript(host: Host, script: string, args: string[]): NsProcess;
  /** Runs `cmdop ARGS` inside a namespace to its end; `onStdout` hears the bytes so far. */
  cmdop(
    host: Host,
    args: string[],
    env?: Record<string, string>,
    onStdout?: (bytes: number) => void,
  ): Promise<{ code: number; stdout: Uint8Array; stderr: string }>;
  /** Drops every packet in and out of that host's namespace until the returned function runs. */
  blackhole(host: "cli" | "agent"): Promise<() => Promise<void>>;
  /** Shapes the agent's link to `rate` (tc tbf, both directions) until the returned function runs. */
  limitAgentLink(rate: string): Promise<() => Promise<void>>;
  /** Kills what was started in the namespaces and deletes them. */
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * Why namespaces cannot be made here (not root, no `ip`, no permission), or
 * undefined when they can; tried with a throwaway namespace.
 *
 * @example
 * ```ts
 * const reason = await namespacesUnavailable();
 * ```
 */
export async function namespacesUnavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "network namespaces need root";
  const probe = `cmdop-probe-${Deno.pid}`;
  try {
    await ip(["netns", "add", probe]);
    await ip(["netns", "del", probe]);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Makes the namespaces (names unique to this process) and their links:
 * agent 10.231.1.2 <-> 10.231.1.1 relay 10.231.2.1 <-> 10.231.2.2 cli.
 *
 * @example
 * ```ts
 * const net = await createTopology();
 * try { … } finally { await net.destroy(); }
 * ```
 */
export async function createTopology(): Promise<Topology> {
  const tag = `cmdop${Deno.pid}`;
  const ns: Record<Host, string> = {
    cli: `${tag}-cli`,
    relay: `${tag}-relay`,
    agent: `${tag}-agent`,
  };
  const started = new Set<Deno.ChildProcess>();
  const made: string[] = [];
  const destroy = async () => {
    for (const child of started) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status.catch(() => {});
    }
    for (const name of made) await ip(["netns", "del", name]).catch(() => {});
  };
  try {
    for (const name of Object.values(ns)) {
      await ip(["netns", "add", name]);
      made.push(name);
      await ip(["-n", name, "link", "set", "lo", "up"]);
    }
    const pair = async (
      host: Host,
      here: string,
      there: string,
      hostAddr: string,
      relayAddr: string,
    ) => {
      await ip([
        "link",
        "add",
        here,
        "netns",
        ns[host],
        "type",
        "veth",
        "peer",
        "name",
        there,
        "netns",
        ns.relay,
      ]);
      await ip(["-n", ns[host], "addr", "add", `${hostAddr}/24`, "dev", here]);
      await ip(["-n", ns.relay, "addr", "add", `${relayAddr}/24`, "dev", there]);
      await ip(["-n", ns[host], "link", "set", here, "up"]);
      await ip(["-n", ns.relay, "link", "set", there, "up"]);
    };
    await pair("agent", "a0", "a1", ADDR.agent, ADDR.relay);
    await pair("cli", "c0", "c1", ADDR.cli, ADDR.relayCliSide);
    // The relay's agent-side address is local to its namespace: reached over the CLI's own link.
    await ip(["-n", ns.cli, "route", "add", "10.231.1.0/24", "via", ADDR.relayCliSide]);
  } catch (error) {
    await destroy();
    throw error;
  }

  const inNs = (host: Host, program: string, args: string[], env: Record<string, string> = {}) =>
    new Deno.Command("ip", {
      args: ["netns", "exec", ns[host], program, ...args],
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const run = async (host: Host, program: string, args: string[]) => {
    const out = await inNs(host, program, args).output();
    const decoder = new TextDecoder();
    if (!out.success) {
      throw new Error(`${program} ${args.join(" ")} in ${ns[host]}: ${decoder.decode(out.stderr)}`);
    }
    return decoder.decode(out.stdout);
  };
  const cmdopArgs = (args: string[]) => ["run", "-A", "--quiet", MAIN, ...args];
  const spawn = (host: Host, denoArgs: string[], env?: Record<string, string>): NsProcess => {
    const child = inNs(host, DENO, denoArgs, env).spawn();
    started.add(child);
    let text = "";
    const decoder = new TextDecoder();
    const done = (async () => {
      for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
    })().catch(() => {});
    child.stdout.cancel().catch(() => {});
    return {
      child,
      stderr: () => text,
      async kill() {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
        await done;
      },
    };
  };

  return {
    ns,
    run,
    spawnCmdop: (host, args, env) => spawn(host, cmdopArgs(args), env),
    spawnScript: (host, script, args) => spawn(host, ["run", "-A", "--quiet", script, ...args]),
    async cmdop(host, args, env, onStdout) {
      const child = inNs(host, DENO, cmdopArgs(args), env).spawn();
      started.add(child);
      const chunks: Uint8Array[] = [];
      let total = 0;
      const [, stderr] = await Promise.all([
        (async () => {
          for await (const chunk of child.stdout) {
            chunks.push(chunk);
            total += chunk.length;
            onStdout?.(total);
          }
        })(),
        new Response(child.stderr).text(),
      ]);
      const { code } = await child.status;
      started.delete(child);
      const stdout = new Uint8Array(total);
      let at = 0;
      for (const chunk of chunks) {
        stdout.set(chunk, at);
        at += chunk.length;
      }
      return { code, stdout, stderr };
    },
    async blackhole(host) {
      const rules = [
        "table inet cmdop_fault {",
        "  chain in { type filter hook input priority 0; policy drop; }",
        "  chain out { type filter hook output priority 0; policy drop; }",
        "}",
      ].join("\n");
      const file = await Deno.makeTempFile({ suffix: ".nft" });
      await Deno.writeTextFile(file, rules);
      await run(host, "nft", ["-f", file]);
      await Deno.remove(file);
      return async () => {
        await run(host, "nft", ["delete", "table", "inet", "cmdop_fault"]);
      };
    },
    async limitAgentLink(rate) {
      const shape = ["root", "tbf", "rate", rate, "burst", "16kb", "latency", "200ms"];
      await run("agent", "tc", ["qdisc", "add", "dev", "a0", ...shape]);
      await run("relay", "tc", ["qdisc", "add", "dev", "a1", ...shape]);
      return async () => {
        await run("agent", "tc", ["qdisc", "del", "dev", "a0", "root"]);
        await run("relay", "tc", ["qdisc", "del", "dev", "a1", "root"]);
      };
    },
    destroy,
  };
}
