/** `cmdop agent run`: enroll this machine once and keep it reachable through the relay. */
import type { CliContext } from "../../context.ts";
import { CliError, ExitRequest } from "../../errors.ts";
import { createLogger, type LogFormat } from "../../../lib/log.ts";

export interface AgentRunOptions {
  /** One relay URL, or several separated by commas. */
  server?: string;
  caFile?: string;
  enrollToken?: string;
  /** A file holding the enroll token (kept out of the process list). */
  enrollTokenFile?: string;
  state: string;
  hostname?: string;
  displayName?: string;
  passwordStdin: boolean;
  /** Log lines on stderr: text (default) or JSON. */
  logFormat?: LogFormat;
  /** `--label key=value`, repeated; none keeps the labels saved in the state. */
  labels?: string[];
  /** Sessions at once (`--max-sessions`). */
  maxSessions?: string;
  /** How long a terminal that lost its stream is kept (`--resume-grace`, e.g. "5m"). */
  resumeGrace?: string;
  /** `--no-port-forwarding`: refuse `cmdop connect forward` sessions. */
  noPortForwarding?: boolean;
  /** `--no-file-copy`: refuse `cmdop connect cp` sessions. */
  noFileCopy?: boolean;
}

/** Runs the agent until interrupted; credential problems end it with their exit code. */
export async function runAgentCommand(ctx: CliContext, options: AgentRunOptions): Promise<void> {
  const server = options.server ?? ctx.env("CMDOP_SERVER");
  if (!server) throw new CliError("--server is required (or set CMDOP_SERVER)");
  const { normaliseServer } = await import("../../access.ts");
  const { runAgent, AgentFatalError } = await import("../../../agent/agent.ts");
  const servers = server.split(",").map((s) => s.trim()).filter((s) => s).map(normaliseServer);
  if (servers.length === 0) throw new CliError(`server "${server}" names no relay URL`);
  const maxSessions = options.maxSessions === undefined ? undefined : Number(options.maxSessions);
  if (maxSessions !== undefined && !(Number.isInteger(maxSessions) && maxSessions >= 1)) {
    throw new CliError(
      `--max-sessions "${options.maxSessions}" is not a whole number of at least 1`,
      {
        hint: "e.g. 64",
      },
    );
  }
  const resumeGraceMs = await resumeGraceOf(options.resumeGrace);
  const labels = await labelsOf(options.labels);
  const fetch = await caFetch(ctx, options.caFile);
  const { isLoopbackUrl } = await import("../../exposure_warnings.ts");
  for (const url of servers.filter((s) => s.startsWith("http://") && !isLoopbackUrl(s))) {
    await ctx.stderr.write(
      `warning: the machine credential goes to ${url} over plain http: anyone on the ` +
        "network path can read it; use an https:// relay\n",
    );
  }
  const password = options.passwordStdin ? await readPassword(ctx) : undefined;
  const enrollToken = await enrollTokenOf(ctx, options);
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
      enrollToken,
      stateDir: options.state,
      hostname: options.hostname ?? Deno.hostname(),
      displayName: options.displayName,
      password,
      labels,
      signal: ctx.signal,
      log,
      runPtySession: await loadPtySupport(),
      maxSessions,
      resumeGraceMs,
      noPortForwarding: options.noPortForwarding === true,
      noFileCopy: options.noFileCopy === true,
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

/**
 * The enroll token from `--enroll-token-file`, `CMDOP_ENROLL_TOKEN` or (with a warning,
 * since the process list shows it to every local user) `--enroll-token`.
 */
async function enrollTokenOf(
  ctx: CliContext,
  options: AgentRunOptions,
): Promise<string | undefined> {
  if (options.enrollToken !== undefined && options.enrollTokenFile !== undefined) {
    throw new CliError("give --enroll-token or --enroll-token-file, not both");
  }
  if (options.enrollTokenFile !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(options.enrollTokenFile);
    } catch (error) {
      throw new CliError(
        `cannot read --enroll-token-file "${options.enrollTokenFile}": ${(error as Error).message}`,
      );
    }
    const token = text.trim();
    if (!/^cme_\S+$/.test(token)) {
      // Never echo the content: the file may not be what was meant.
      throw new CliError(
        `--enroll-token-file "${options.enrollTokenFile}" does not hold an enroll token`,
        { hint: "it should contain one line: cme_…" },
      );
    }
    return token;
  }
  if (options.enrollToken !== undefined) {
    const { ARGV_EXPOSURE } = await import("../../exposure_warnings.ts");
    await ctx.stderr.write(
      `warning: --enroll-token ${ARGV_EXPOSURE}; ` +
        "use --enroll-token-file FILE or CMDOP_ENROLL_TOKEN\n",
    );
    return options.enrollToken;
  }
  return ctx.env("CMDOP_ENROLL_TOKEN");
}

/** `--label` values checked as the relay would; `undefined` when none was given. */
async function labelsOf(texts: string[] | undefined) {
  if (!texts?.length) return undefined;
  const { parseLabels, LabelError } = await import("../../../lib/labels.ts");
  try {
    return parseLabels(texts);
  } catch (error) {
    if (!(error instanceof LabelError)) throw error;
    throw new CliError(`--label: ${error.message}`, {
      hint: "labels are key=value, e.g. --label env=prod --label role=web",
    });
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
  const { loadCaFetch } = await import("../../../lib/ca_fetch.ts");
  try {
    return await loadCaFetch(path, flag ? "--ca-file" : "CMDOP_CA_FILE");
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/** The longest `--resume-grace`: a day; a shell kept longer for nobody is a shell forgotten. */
const MAX_RESUME_GRACE_MS = 86_400_000;

async function resumeGraceOf(text: string | undefined): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseDuration } = await import("../../duration.ts");
  const ms = parseDuration(text, "--resume-grace", "s");
  if (ms > MAX_RESUME_GRACE_MS) {
    throw new CliError(`--resume-grace "${text}" is longer than a day`, {
      hint: "e.g. 5m; 0 turns resuming off",
    });
  }
  return ms;
}
