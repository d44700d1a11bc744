/** Starts cmdop's relay and agent as real processes for the benchmarks, and says how to call the CLI against them. */

import { type Proc, spawnProc } from "./_proc.ts";

/** The repository root, `main.ts` and `deno.json`. */
export const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
export const MAIN = `${ROOT}main.ts`;
export const DENO_JSON = `${ROOT}deno.json`;

/** What `cmdop relay workspace create --json` prints. */
export interface Workspace {
  workspace_id: string;
  name: string;
  api_key: string;
  enroll_token: string;
}

/** A relay process and its address. */
export interface RelayProc extends Proc {
  url: string;
  port: number;
  dataDir: string;
}

/** A certificate and its key in PEM files, for `cmdop relay serve --tls-cert/--tls-key`. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * `cmdop relay serve` on 127.0.0.1 (port 0 = any), with the fd limit raised,
 * resolved once it prints its "listening on" line; serving HTTPS with `tls`.
 *
 * @example
 * ```ts
 * const relay = await startRelayProc(`${dir}/relay`);
 * const secure = await startRelayProc(`${dir}/tls`, 0, { cert: "relay.pem", key: "relay.key" });
 * ```
 */
export async function startRelayProc(
  dataDir: string,
  port = 0,
  tls?: TlsFiles,
  extraArgs: string[] = [],
): Promise<RelayProc> {
  const proc = spawnProc(
    Deno.execPath(),
    [
      "run",
      "--quiet",
      "--no-prompt",
      "-A",
      MAIN,
      "relay",
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--data",
      dataDir,
      ...(tls ? ["--tls-cert", tls.cert, "--tls-key", tls.key] : []),
      ...extraArgs,
    ],
    { raiseFdLimit: true },
  );
  const [, url, actual] = await proc.waitFor(
    /listening on (https?:\/\/127\.0\.0\.1:(\d+))/,
    60_000,
  );
  return { ...proc, url, port: Number(actual), dataDir };
}

/**
 * `cmdop relay workspace create NAME --data DIR --json`.
 *
 * @example
 * ```ts
 * const ws = await createWorkspace(relay.dataDir, "bench");
 * ```
 */
export async function createWorkspace(dataDir: string, name: string): Promise<Workspace> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-A",
      MAIN,
      "relay",
      "workspace",
      "create",
      name,
      "--data",
      dataDir,
      "--json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`Workspace create "${name}" failed: ${text.decode(out.stderr).trim()}`);
  }
  return JSON.parse(text.decode(out.stdout));
}

/**
 * `cmdop agent run` enrolled with `enrollToken` as `hostname`, resolved once it is online;
 * trusting the CA in `caFile` (`--ca-file`) for a relay whose certificate it signed.
 *
 * @example
 * ```ts
 * const agent = await startAgentProc(relay.url, ws.enroll_token, "bench-host", `${dir}/agent`);
 * ```
 */
export async function startAgentProc(
  relayUrl: string,
  enrollToken: string,
  hostname: string,
  stateDir: string,
  caFile?: string,
  extraArgs: string[] = [],
): Promise<Proc> {
  const proc = spawnProc(Deno.execPath(), [
    "run",
    "--quiet",
    "--no-prompt",
    "-A",
    MAIN,
    "agent",
    "run",
    "--server",
    relayUrl,
    "--enroll-token",
    enrollToken,
    "--state",
    stateDir,
    "--hostname",
    hostname,
    ...(caFile ? ["--ca-file", caFile] : []),
    ...extraArgs,
  ]);
  await proc.waitFor(/online as machine/, 60_000);
  return proc;
}

/** The variables the sandboxed client may read (`scripts/client_env.json`). */
function clientEnvVars(): string {
  try {
    return (JSON.parse(Deno.readTextFileSync(`${ROOT}scripts/client_env.json`)) as string[]).join(
      ",",
    );
  } catch {
    return "CMDOP_API_KEY,CMDOP_SERVER,CMDOP_HOME,CMDOP_CA_FILE,HOME,TERM,NO_COLOR";
  }
}

/**
 * The CLI as `deno task cmdop` runs it (`scripts/cmdop_client.sh`): `deno run`
 * with the client's grant — its home and the program's own files, the network,
 * its variables — and lazy dynamic imports, minus the two shell wrappers, so that it compares with `deno run` of an empty script.
 * `caFile`, the `CMDOP_CA_FILE` it will be given, is readable too, as the
 * wrapper grants it.
 *
 * @example
 * ```ts
 * const cli = clientCommand(`${dir}/home`);
 * await timeCommand(cli[0], [...cli.slice(1), "--version"]);
 * ```
 */
export function clientCommand(home: string, entry = MAIN, caFile?: string): string[] {
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    "--config",
    DENO_JSON,
    "--unstable-lazy-dynamic-imports",
    `--allow-read=${[home, ROOT.replace(/\/$/, ""), ...caFile ? [caFile] : []].join(",")}`,
    `--allow-write=${home}`,
    "--allow-net",
    `--allow-env=${clientEnvVars()}`,
    entry,
  ];
}
