/** Entry of cmdop's compiled binaries: relay and agent run as they are, the client runs in a worker holding only its sandbox's permissions. */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveHome } from "../src/config/paths.ts";
import clientEnv from "./client_env.json" with { type: "json" };

/** Verbs that need the binary's full grant: they run commands, open ptys, serve and store data. */
const SERVER_VERBS = new Set(["relay", "agent"]);

/** The file `--link-file` names (the last one, as commander reads it), before the remote command's `--`. */
export function linkFileOf(args: readonly string[]): string | undefined {
  const file = fileFlagOf(args, "--link-file");
  return file && file !== "-" ? file : undefined;
}

/** The file a flag names (the last one, as commander reads it), before the remote command's `--`. */
function fileFlagOf(args: readonly string[], flag: string): string | undefined {
  let file: string | undefined;
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    if (args[i] === flag) file = args[++i];
    else if (args[i].startsWith(`${flag}=`)) file = args[i].slice(flag.length + 1);
  }
  return file || undefined;
}

/** Flags of the client (global ones and cp's) that take a value: that value is not an operand. */
const VALUE_FLAGS = new Set([
  "-k",
  "--api-key",
  "-s",
  "--server",
  "--workspace",
  "--machine-credential",
  "--link-file",
]);

/**
 * The local side of `cmdop connect cp SOURCE DESTINATION`: a local source is read (a folder
 * with everything below it); a local destination's folder — the destination itself when it is
 * an existing folder — is read and written, since each file is written to a temporary name
 * beside its final one and renamed. A remote operand (`HOST:PATH`, `:PATH`) and `-` add nothing.
 * The same reading as scripts/cmdop_client.sh.
 *
 * @example
 * ```ts
 * copyPaths(["connect", "cp", "web-1:/etc/hosts", "./hosts"], isDirectory);
 * // { read: ["/home/me"], write: ["/home/me"] }
 * ```
 */
export function copyPaths(
  args: readonly string[],
  isDirectory: (path: string) => boolean,
): { read: string[]; write: string[] } {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") {
      words.push(...args.slice(i + 1));
      break;
    }
    if (VALUE_FLAGS.has(args[i])) i++;
    else if (!args[i].startsWith("-") || args[i] === "-") words.push(args[i]);
  }
  const none = { read: [], write: [] };
  if (words[0] !== "connect" || words[1] !== "cp" || words.length !== 4) return none;
  const [source, destination] = [words[2], words[3]];
  const read: string[] = [];
  const write: string[] = [];
  if (isLocalOperand(source)) read.push(resolve(source));
  if (isLocalOperand(destination)) {
    const path = resolve(destination);
    const folder = isDirectory(path) ? path : dirname(path);
    read.push(folder);
    write.push(folder);
  }
  return { read, write };
}

/** scp's rule: remote when a colon comes before any slash; `-` is stdin or stdout. */
function isLocalOperand(operand: string): boolean {
  if (operand === "-") return false;
  const colon = operand.indexOf(":");
  return colon < 0 || operand.slice(0, colon).includes("/");
}

/** What the client may touch, computed here because compiled-in permission paths cannot name the user's home. */
export function clientPermissions(
  env: (name: string) => string | undefined,
  codeRoot: string,
  args: readonly string[] = [],
): Deno.PermissionOptionsObject {
  let home: string | undefined;
  try {
    home = resolve(resolveHome(env));
  } catch {
    home = undefined; // The client reports the missing home itself, with its hint.
  }
  const caFile = env("CMDOP_CA_FILE");
  const linkFile = linkFileOf(args);
  // An agent's state file, when the client is told to act as that machine: that file only.
  const machineFile = fileFlagOf(args, "--machine-credential") ??
    env("CMDOP_MACHINE_CREDENTIAL");
  const files = home ? [home] : [];
  const copy = copyPaths(args, (path) => {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  });
  return {
    // codeRoot is the binary's embedded file system: the modules and npm packages it carries.
    read: [
      ...files,
      ...(caFile ? [resolve(caFile)] : []),
      ...(linkFile ? [resolve(linkFile)] : []),
      ...(machineFile ? [resolve(machineFile)] : []),
      ...copy.read,
      codeRoot,
    ],
    write: [...files, ...copy.write],
    net: true,
    env: clientEnv,
    run: false,
    ffi: false,
    sys: false,
    import: false,
  };
}

async function runServerVerb(): Promise<void> {
  await import("../main.ts");
}

function runSandboxedClient(): void {
  const codeRoot = dirname(dirname(fileURLToPath(import.meta.url)));
  const env = (name: string) => Deno.env.get(name) || undefined;
  const worker = new Worker(new URL("./dist_client_worker.ts", import.meta.url), {
    type: "module",
    name: "cmdop",
    deno: { permissions: clientPermissions(env, codeRoot, Deno.args) },
  });
  worker.onmessage = (event: MessageEvent<{ ready?: true; exit?: number }>) => {
    if (event.data.ready) {
      // The worker has loaded: from here on this thread holds nothing it could lend.
      for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const) {
        Deno.permissions.revokeSync({ name });
      }
      worker.postMessage("start");
    } else {
      Deno.exit(event.data.exit ?? 0);
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    console.error(`error: ${event.message}`);
    Deno.exit(1);
  };
}

if (import.meta.main) {
  // The root command has no options but --help and --version: the verb is the first argument.
  if (SERVER_VERBS.has(Deno.args[0])) await runServerVerb();
  else runSandboxedClient();
}
