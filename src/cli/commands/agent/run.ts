/** `cmdop agent run`: enroll this machine once and keep it reachable through the relay. */
import type { CliContext } from "../../context.ts";
import { CliError, ExitRequest } from "../../errors.ts";
import { createLogger, type LogFormat } from "../../../lib/log.ts";

export interface AgentRunOptions {
  /** One relay URL, or several separated by commas. */
  server?: string;
  caFile?: string;
  enrollToken?: string;
  state: string;
  hostname?: string;
  displayName?: string;
  passwordStdin: boolean;
  /** Log lines on stderr: text (default) or JSON. */
  logFormat?: LogFormat;
}

/** Runs the agent until interrupted; credential problems end it with their exit code. */
export async function runAgentCommand(ctx: CliContext, options: AgentRunOptions): Promise<void> {
  const server = options.server ?? ctx.env("CMDOP_SERVER");
  if (!server) throw new CliError("--server is required (or set CMDOP_SERVER)");
  const { normaliseServer } = await import("../../access.ts");
  const { runAgent, AgentFatalError } = await import("../../../agent/agent.ts");
  const servers = server.split(",").map((s) => s.trim()).filter((s) => s).map(normaliseServer);
  if (servers.length === 0) throw new CliError(`server "${server}" names no relay URL`);
  const fetch = await caFetch(ctx, options.caFile);
  const password = options.passwordStdin ? await readPassword(ctx) : undefined;
  const log = createLogger(options.logFormat ?? "text", (line) => {
    void ctx.stderr.write(line);
  }, ctx.now);
  const { installLastResort } = await import("../../../lib/last_resort.ts");
  // A session that fails in an unforeseen way must not take the machine offline.
  const uninstall = installLastResort("agent", (message) => log(message, { level: "error" }));
  try {
    await runAgent({
      server: servers[0],
      servers,
      fetch,
      enrollToken: options.enrollToken ?? ctx.env("CMDOP_ENROLL_TOKEN"),
      stateDir: options.state,
      hostname: options.hostname ?? Deno.hostname(),
      displayName: options.displayName,
      password,
      signal: ctx.signal,
      log,
      runPtySession: await loadPtySupport(),
    });
  } catch (error) {
    if (error instanceof AgentFatalError) {
      await ctx.stderr.write(`error: ${error.message}\n`);
      throw new ExitRequest(error.exitCode);
    }
    throw error;
  } finally {
    uninstall();
  }
}

async function readPassword(ctx: CliContext): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of ctx.stdin.readable) text += decoder.decode(chunk, { stream: true });
  const password = text.replace(/\r?\n$/, "");
  if (!password) throw new CliError("--password-stdin read an empty password");
  return password;
}

async function loadPtySupport() {
  try {
    const { runPtySession } = await import("../../../agent/pty_session.ts");
    return runPtySession;
  } catch {
    return undefined;
  }
}

/** A fetch trusting --ca-file (or CMDOP_CA_FILE); undefined means the default roots. */
async function caFetch(ctx: CliContext, flag: string | undefined) {
  const path = flag ?? ctx.env("CMDOP_CA_FILE");
  if (!path) return undefined;
  const { loadCaFetch } = await import("../../../lib/transport.ts");
  try {
    return await loadCaFetch(path, flag ? "--ca-file" : "CMDOP_CA_FILE");
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}
