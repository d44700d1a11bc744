/**
 * `make lint`'s import rules for src/, read from Deno's own module graph (`deno info --json`),
 * type-only and dynamic imports included:
 *
 * - no import cycle;
 * - src/config and src/lib import nothing from src/cli, src/relay or src/agent;
 * - under src/cli, only commands/relay/ and commands/agent/ import relay or agent code;
 * - what `main.ts` runs with (its code imports, dynamic ones with a literal specifier included:
 *   Deno reads and hashes all of them at every start) holds no relay or agent module — those
 *   verbs load through src/cli/server_verbs.ts;
 * - the modules an exec in a new process evaluates (the static code imports of its entry
 *   modules, {@linkcode LEAN_ENTRIES}) load neither connect-es nor protobuf-es: either brings
 *   protobuf-es's registry along, ~10 ms of every exec's start-up measured with `--cpu-prof`.
 *
 * Prints each breach with the files involved and exits 1; prints nothing and exits 0 otherwise.
 *
 * @example
 * ```sh
 * scripts/deno run -A scripts/check_imports.ts
 * ```
 */

const root = new URL("../", import.meta.url);
const srcUrl = new URL("src/", root).href;

/** Every module of src/ but tests, relative to the repository (`src/cli/run.ts`). */
async function sourceModules(dir = new URL("src/", root)): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) found.push(...await sourceModules(url));
    else if (/\.ts$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
      found.push(url.href.slice(root.href.length));
    }
  }
  return found;
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    specifier?: string;
    code?: { specifier?: string };
    type?: { specifier?: string };
    isDynamic?: boolean;
  }[];
}

/** The modules an exec in a new process loads, each evaluated with all its static code imports. */
const LEAN_ENTRIES = [
  "src/cli/run.ts",
  "src/cli/commands/connect/exec.ts",
  "src/cli/relay_client.ts",
  "src/cli/relay_lean.ts",
  "src/lib/relay_http_client.ts",
];

/** connect-es or protobuf-es reached from a lean entry through static code imports, as "entry → … → package". */
async function leanPathBreaches(): Promise<string[]> {
  const info = await moduleInfo(LEAN_ENTRIES);
  const statics = new Map<string, { specifier: string; target: string }[]>();
  for (const module of info.modules) {
    statics.set(
      module.specifier,
      (module.dependencies ?? []).flatMap((dep) =>
        !dep.isDynamic && dep.code?.specifier
          ? [{ specifier: dep.specifier ?? dep.code.specifier, target: dep.code.specifier }]
          : []
      ),
    );
  }
  const breaches: string[] = [];
  for (const entry of LEAN_ENTRIES) {
    const path = new Map<string, string[]>([[new URL(entry, root).href, [entry]]]);
    const queue = [new URL(entry, root).href];
    while (queue.length) {
      const from = queue.shift()!;
      for (const { specifier, target } of statics.get(from) ?? []) {
        if (path.has(target)) continue;
        const via = [...path.get(from)!, specifier];
        if (/^(npm:)?@(bufbuild\/protobuf|connectrpc\/connect)\b/.test(specifier)) {
          breaches.push(
            `${
              via.join(" → ")
            } (an exec's start-up loads no connect-es or protobuf-es: import it where it is used, with import())`,
          );
          continue;
        }
        path.set(target, via);
        queue.push(target);
      }
    }
  }
  return breaches;
}

/** One `deno info --json` of the given modules (through a temporary module naming them all). */
async function moduleInfo(modules: string[]): Promise<{ modules: InfoModule[] }> {
  const entry = await Deno.makeTempFile({ dir: new URL("src/", root).pathname, suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      entry,
      modules.map((m) => `import type {} from "${new URL(m, root).href}";\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    const entryUrl = new URL(`file://${entry}`).href;
    return { modules: info.modules.filter((m) => m.specifier !== entryUrl) };
  } finally {
    await Deno.remove(entry);
  }
}

/** src/ module → the src/ modules it imports, from one `deno info --json` of all of them. */
async function importGraph(modules: string[]): Promise<Map<string, Set<string>>> {
  const info = await moduleInfo(modules);
  const graph = new Map<string, Set<string>>();
  for (const module of info.modules) {
    if (!module.specifier.startsWith(srcUrl)) continue;
    const targets = new Set<string>();
    for (const dep of module.dependencies ?? []) {
      for (const s of [dep.code?.specifier, dep.type?.specifier]) {
        if (s?.startsWith(srcUrl)) targets.add(s.slice(root.href.length));
      }
    }
    graph.set(module.specifier.slice(root.href.length), targets);
  }
  return graph;
}

/** The src/ modules `main.ts` can reach through code imports (what Deno loads before running it). */
async function startupModules(): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("main.ts", root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno info failed: ${new TextDecoder().decode(out.stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  const code = new Map<string, string[]>();
  for (const module of info.modules) {
    code.set(
      module.specifier,
      (module.dependencies ?? []).flatMap((dep) => dep.code?.specifier ? [dep.code.specifier] : []),
    );
  }
  const seen = new Set<string>();
  const queue = [new URL("main.ts", root).href];
  while (queue.length) {
    const next = queue.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...code.get(next) ?? []);
  }
  return new Set(
    [...seen].filter((s) => s.startsWith(srcUrl)).map((s) => s.slice(root.href.length)),
  );
}

/** The strongly connected components with more than one module (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The imports that break a layering rule, as "from → to (why)". */
function layerBreaches(graph: Map<string, Set<string>>): string[] {
  const breaches: string[] = [];
  const serverSide = /^src\/(relay|agent)\//;
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (/^src\/(config|lib)\//.test(from) && /^src\/(cli|relay|agent)\//.test(to)) {
        breaches.push(`${from} → ${to} (config and lib are shared by every program)`);
      }
      if (
        from.startsWith("src/cli/") && !/^src\/cli\/commands\/(relay|agent)\//.test(from) &&
        serverSide.test(to)
      ) {
        breaches.push(
          `${from} → ${to} (only cli/commands/relay and cli/commands/agent start relay or agent code)`,
        );
      }
    }
  }
  return breaches;
}

if (import.meta.main) {
  const graph = await importGraph(await sourceModules());
  const loops = cycles(graph);
  const breaches = layerBreaches(graph);
  for (const module of await startupModules()) {
    if (/^src\/(relay|agent)\//.test(module)) {
      breaches.push(
        `main.ts loads ${module} at start (load relay and agent verbs with loadServerVerb)`,
      );
    }
  }
  breaches.push(...await leanPathBreaches());
  for (const loop of loops) console.error(`import cycle: ${loop.join(" ⇄ ")}`);
  for (const breach of breaches) console.error(`import rule: ${breach}`);
  if (loops.length || breaches.length) {
    console.error(
      `${loops.length} import cycle(s), ${breaches.length} layering breach(es) in src/ ` +
        "(hint: move the shared type or value into a module both sides import)",
    );
    Deno.exit(1);
  }
}

export { cycles, layerBreaches };
