/**
 * loadServerVerb: the modules of `cmdop relay …` and `cmdop agent …`, loaded only when one of
 * those verbs runs.
 *
 * Deno reads and hashes every module a program could import, dynamic `import("…")` of a string
 * literal included, before it runs the first line. Written as literals, these verbs put the relay
 * and the agent (113 of the 280 modules) in front of every `cmdop connect exec`. Their specifiers
 * are therefore built at run time, which Deno does not follow ahead of time: the client's graph is
 * the client's (`scripts/check_imports.ts` checks it). The price: loading them needs read access to
 * the program's folder, which the relay's and the agent's grants have and the sandboxed client's
 * (CMDOP_HOME only) does not — so the client says where these verbs run instead. The compiled
 * binaries embed these files with `deno compile --include` (scripts/dist.sh reads the list below).
 */
import { CliError } from "./errors.ts";

/** Each verb's module, relative to this file. scripts/dist.sh embeds exactly these. */
export const SERVER_VERB_MODULES = {
  serve: "./commands/relay/serve.ts",
  workspaceCreate: "./commands/relay/workspace_create.ts",
  userAdd: "./commands/relay/user_add.ts",
  credentials: "./commands/relay/credentials.ts",
  relayAudit: "./commands/relay/audit.ts",
  machineClients: "./commands/relay/machine_clients.ts",
  recording: "./commands/relay/recording.ts",
  agent: "./commands/agent/run.ts",
} as const;

/** What each module exports (types only: no module is loaded for them). */
interface ServerVerbExports {
  serve: typeof import("./commands/relay/serve.ts");
  workspaceCreate: typeof import("./commands/relay/workspace_create.ts");
  userAdd: typeof import("./commands/relay/user_add.ts");
  credentials: typeof import("./commands/relay/credentials.ts");
  relayAudit: typeof import("./commands/relay/audit.ts");
  machineClients: typeof import("./commands/relay/machine_clients.ts");
  recording: typeof import("./commands/relay/recording.ts");
  agent: typeof import("./commands/agent/run.ts");
}

/**
 * Imports a relay or agent verb's module.
 *
 * @example
 * ```ts
 * const { runServe } = await loadServerVerb("serve");
 * ```
 */
export async function loadServerVerb<K extends keyof ServerVerbExports>(
  verb: K,
): Promise<ServerVerbExports[K]> {
  const url = new URL(SERVER_VERB_MODULES[verb], import.meta.url);
  // A module outside the start-up graph needs read access to its file; without it Deno fails the
  // import with a TypeError that names the file but not the reason.
  if (
    url.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: url }).state !== "granted"
  ) {
    const which = verb === "agent" ? "agent" : "relay";
    throw new CliError(`cmdop ${which} cannot run inside the sandboxed client`, {
      hint: `the ${which} needs its own permissions: run it through the installed \`cmdop\` ` +
        `command (make install) or \`deno task ${which} …\`, not \`deno task cmdop\``,
    });
  }
  return await import(url.href) as ServerVerbExports[K];
}
