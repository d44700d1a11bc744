/** The global flags of `cmdop connect`, as every subcommand sees them. */

export interface GlobalOptions {
  apiKey?: string;
  server?: string;
  workspace?: string;
  /** `--machine-credential FILE`: act as the machine whose agent state file this is. */
  machineCredential?: string;
  json: boolean;
  /** False with --no-interactive / -q, and implied false by --json. */
  interactive: boolean;
}

/** Normalises commander's merged options (`optsWithGlobals()`). */
export function toGlobalOptions(opts: Record<string, unknown>): GlobalOptions {
  const json = opts.json === true;
  return {
    apiKey: typeof opts.apiKey === "string" ? opts.apiKey : undefined,
    server: typeof opts.server === "string" ? opts.server : undefined,
    workspace: typeof opts.workspace === "string" ? opts.workspace : undefined,
    machineCredential: typeof opts.machineCredential === "string"
      ? opts.machineCredential
      : undefined,
    json,
    interactive: opts.interactive !== false && !json,
  };
}

/** What a run learns along the way that error reporting needs (where the credential came from). */
export interface RunState {
  credentialSource?: string;
  /** What to do when that credential is refused (e.g. run `cmdop login` again). */
  credentialHint?: string;
  /** The relay URL the run talks to and where it came from, for network errors to name. */
  server?: string;
  serverSource?: string;
  /**
   * With `exec --json`: the spec's envelope so far (stdout, stderr, duration), so an
   * error still prints that shape, with `exit_code` and `error` filled in.
   */
  jsonEnvelope?: () => Record<string, unknown>;
  /** Exposure warnings already printed this run (each is said once). */
  warned?: Set<string>;
  /** Help, version and usage text commander wrote; awaited before the process exits. */
  pendingOutput?: Promise<void>[];
}
