/** The errors of cmdop's config files and folders, for any program that reads them. */

import { UserError, type UserErrorOptions } from "../lib/user_error.ts";

export { ExitCode } from "../lib/user_error.ts";

/**
 * A config value or file a person must fix: the CLI, the agent and the relay report it the
 * same way (message, hint, exit code), and none of them is needed to throw it.
 *
 * @example
 * ```ts
 * throw new ConfigError("the workspace name is empty");
 * ```
 */
export class ConfigError extends UserError {
  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, options);
    this.name = "ConfigError";
  }
}
