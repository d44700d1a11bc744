/** resolveAccess: which relay to call and with which credential, each with the place it came from. */
import type { CliContext } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import type { GlobalOptions } from "./globals.ts";

export interface ResolvedAccess {
  server: string;
  serverSource: string;
  credential: string;
  credentialSource: string;
  /** Workspace a user-scoped login token acts in. */
  workspaceHint?: string;
}

export const DEFAULT_SERVER = "http://127.0.0.1:4780";

/** Resolves server and credential from flags and environment. */
export function resolveAccess(ctx: CliContext, globals: GlobalOptions): Promise<ResolvedAccess> {
  const server = globals.server
    ? { value: globals.server, source: "--server flag" }
    : ctx.env("CMDOP_SERVER")
    ? { value: ctx.env("CMDOP_SERVER")!, source: "CMDOP_SERVER environment variable" }
    : { value: DEFAULT_SERVER, source: "default" };
  const credential = globals.apiKey
    ? { value: globals.apiKey, source: "--api-key flag" }
    : ctx.env("CMDOP_API_KEY")
    ? { value: ctx.env("CMDOP_API_KEY")!, source: "CMDOP_API_KEY environment variable" }
    : undefined;
  if (!credential) {
    return Promise.reject(
      new CliError("no credential: no API key was given", {
        exitCode: ExitCode.auth,
        hint: "pass --api-key or set CMDOP_API_KEY",
      }),
    );
  }
  return Promise.resolve({
    server: normaliseServer(server.value),
    serverSource: server.source,
    credential: credential.value,
    credentialSource: credential.source,
  });
}

/** Accepts `host:port` as well as a URL. */
export function normaliseServer(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`server "${value}" is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`server "${value}" must be an http:// or https:// URL`);
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}
