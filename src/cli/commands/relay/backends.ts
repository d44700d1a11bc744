/** The store of the relay's operator commands (`relay workspace create`, `relay user add`…): the one `relay serve` uses, named by --data or --store / CMDOP_RELAY_STORE. */
import {
  openRelayBackends,
  type RelayBackends,
  STORE_VARIABLE,
} from "../../../relay/backend/backend.ts";
import type { CliContext } from "../../context.ts";
import { CliError } from "../../errors.ts";

export type { RelayBackends } from "../../../relay/backend/backend.ts";

/**
 * The store of an operator command (`relay workspace create`, `relay user add`): never
 * the bus, and an explicit `--data` beside a store URL is refused rather than ignored,
 * since writing to a store the operator did not name is worse than stopping. For the
 * same reason a `--data` folder without `relay.db` is refused unless `init` is set.
 *
 * @example
 * ```ts
 * const { store } = await openOperatorStore(ctx, { store: "postgres://cmdop@db/cmdop" });
 * ```
 */
export async function openOperatorStore(
  ctx: CliContext,
  options: { data?: string; store?: string; init?: boolean },
): Promise<RelayBackends> {
  if (options.data !== undefined && storeUrlOf(ctx, options)) {
    const source = options.store !== undefined ? "--store" : STORE_VARIABLE;
    throw new CliError(`--data "${options.data}" and ${source} name two different stores`, {
      hint: options.store !== undefined
        ? "give one of them"
        : `unset ${STORE_VARIABLE} to use --data, or drop --data`,
    });
  }
  if (options.data !== undefined && !storeUrlOf(ctx, options) && !options.init) {
    await requireExistingStore(options.data);
  }
  // Stderr only: stdout may be JSON a script parses.
  return await openRelayBackends({
    data: options.data,
    storeUrl: storeUrlOf(ctx, options),
    now: ctx.now,
    log: (message) => void ctx.stderr.write(`${message}\n`),
  });
}

/**
 * A `--data` folder with no `relay.db` is most likely a typo: refused, so a workspace
 * is not created in a new empty store the relay never reads. `--init` creates one.
 */
async function requireExistingStore(data: string): Promise<void> {
  const file = `${data.replace(/\/+$/, "")}/relay.db`;
  try {
    await Deno.stat(file);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new CliError(`cannot read "${file}": ${(error as Error).message}`, { cause: error });
    }
  }
  throw new CliError(`--data "${data}" holds no relay store (no relay.db there)`, {
    hint: "give the folder relay serve uses (its --data); to start a new store there, " +
      "run relay workspace create with --init",
  });
}

/** `--store`, else `CMDOP_RELAY_STORE`; undefined for the embedded store. */
export function storeUrlOf(ctx: CliContext, options: { store?: string }): string | undefined {
  return options.store || ctx.env(STORE_VARIABLE) || undefined;
}
