/** The compiled client's worker: runs main.ts under the permissions dist_main.ts granted, and hands its exit code back. */

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

// As with `--ignore-env` in `deno task cmdop`: a variable outside the grant reads as unset
// instead of failing (process.env goes through Deno.env.get as well).
const getEnv = Deno.env.get.bind(Deno.env);
Deno.env.get = (name: string) =>
  Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? getEnv(name)
    : undefined;

// Deno.exit in a worker ends only the worker; its code reaches the process through the parent.
globalThis.addEventListener("unload", () => scope.postMessage({ exit: Deno.exitCode }));

scope.onmessage = async () => {
  scope.onmessage = null;
  await import("../main.ts");
};
scope.postMessage({ ready: true });
