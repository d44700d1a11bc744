/** The programs tests run (PostgreSQL, haproxy, tmux…): where each is, installing the missing, and skipping loudly or failing in CI. */
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./_harness.ts";

/** The list of programs and their Debian packages, one place for scripts and tests alike. */
export const PACKAGE_LIST = join(ROOT, "scripts", "test_packages.txt");

/**
 * Where `name` is installed: PATH, the sbin folders, or PostgreSQL's versioned folder
 * (`/usr/lib/postgresql/N/bin`, not on PATH); undefined when it is not. For `python3:MODULE`,
 * Debian's python3 when it imports the module.
 *
 * @example
 * ```ts
 * const haproxy = findProgram("haproxy") ?? "haproxy";
 * const python = findProgram("python3:grpc"); // "/usr/bin/python3"
 * ```
 */
export function findProgram(name: string): string | undefined {
  if (name.startsWith("python3:")) return pythonWith(name.slice("python3:".length));
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, "/usr/sbin", "/sbin", "/usr/local/sbin"]) {
    if (isFile(join(dir, name))) return join(dir, name);
  }
  const dir = postgresBinDir();
  return dir && isFile(join(dir, name)) ? join(dir, name) : undefined;
}

/** Debian's python3 (a pyenv's on PATH lacks Debian's modules), when it imports `module`. */
function pythonWith(module: string): string | undefined {
  const python = "/usr/bin/python3";
  if (!isFile(python)) return undefined;
  const out = new Deno.Command(python, {
    args: ["-c", `import ${module}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return out.success ? python : undefined;
}

/** The newest PostgreSQL's server folder, which Debian keeps off PATH. */
export function postgresBinDir(): string | undefined {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => Number(e.name)).filter((v) => v > 0).sort((a, b) => b - a);
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (isFile(join(dir, "postgres")) && isFile(join(dir, "initdb"))) return dir;
    }
  } catch { /* no PostgreSQL */ }
  return undefined;
}

/** Installs go one at a time: apt-get holds a lock, and one run can cover several files' needs. */
let installing: Promise<unknown> = Promise.resolve();

/**
 * Makes sure the programs are there, running `scripts/test_deps.sh` (apt-get, as root) for the
 * missing ones. Resolves why the tests that need them cannot run, or undefined when they can.
 *
 * Under `CI=true` a program that is still missing is a failure, not a skip: a test named after
 * `what` is registered that fails with the reason. Elsewhere the skip is announced loudly
 * and the caller passes the reason as the `skip` option, so that the run counts it skipped.
 *
 * @example
 * ```ts
 * const skip = await needTools("relay cluster", ["postgres", "nats-server", "haproxy"]);
 * describe("relay cluster", { skip }, () => {});
 * ```
 */
export async function needTools(what: string, names: string[]): Promise<string | undefined> {
  const reason = await installTools(names);
  if (reason === undefined) return undefined;
  if (Deno.env.get("CI") === "true") {
    test(`${what} has the programs it needs`, () => {
      throw new Error(`${reason}; in CI make test installs them (scripts/test_deps.sh)`);
    });
  } else {
    const bar = "!".repeat(72);
    console.error(`\n${bar}\n!! ${what} SKIPPED: ${reason}\n${bar}\n`);
  }
  return reason;
}

/**
 * Installs the missing ones of `names` (see {@linkcode needTools}); resolves why some are still
 * missing, or undefined when all are there. Neither announces nor registers anything.
 *
 * @example
 * ```ts
 * const missing = await installTools(["postgres", "nats-server"]);
 * if (missing) console.error(`cluster benchmarks skipped: ${missing}`);
 * ```
 */
export async function installTools(names: string[]): Promise<string | undefined> {
  const known = await listedPrograms();
  const unlisted = names.filter((n) => !known.has(n));
  if (unlisted.length > 0) {
    throw new Error(`${unlisted.join(", ")} not in ${PACKAGE_LIST}: add "PROGRAM PACKAGE" lines`);
  }
  let missing = names.filter((n) => !findProgram(n));
  let failure = "";
  if (missing.length > 0) {
    const run = installing.then(() => install(missing));
    installing = run.catch(() => {});
    failure = await run;
    missing = names.filter((n) => !findProgram(n));
  }
  if (missing.length === 0) return undefined;
  const packages = missing.map((n) => known.get(n)).join(" ");
  return `${missing.join(", ")} not installed (Debian: ${packages})` +
    (failure ? `: ${failure}` : "");
}

async function listedPrograms(): Promise<Map<string, string>> {
  const programs = new Map<string, string>();
  for (const line of (await Deno.readTextFile(PACKAGE_LIST)).split("\n")) {
    const [program, pkg] = line.trim().split(/\s+/);
    if (program && pkg && !program.startsWith("#")) programs.set(program, pkg);
  }
  return programs;
}

/** Runs scripts/test_deps.sh; resolves its last complaint, or "" when it succeeded. */
async function install(programs: string[]): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [join(ROOT, "scripts", "test_deps.sh"), ...programs],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.success) return "";
  return new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "test_deps.sh failed";
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
