/** cmdop's entry point: the CLI, the relay and the agent in one program. */
import { runCli } from "./src/cli/run.ts";
import { systemContext } from "./src/cli/system.ts";

Deno.exit(await runCli(Deno.args, systemContext()));
