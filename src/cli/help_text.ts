/** What `--help` shows beyond commander's defaults: examples at the top of each verb, and the inherited global flags. */
import { type Command, Help } from "@commander-js/extra-typings";

/** Examples by command path (`""` is `cmdop` itself); shown first, before the usage line. */
const EXAMPLES: Record<string, string[]> = {
  "": [
    "cmdop connect --list                      # machines in the workspace",
    "cmdop connect web-1                       # a terminal on web-1",
    "cmdop connect exec web-1 -- uname -a      # one command, its exit status",
    "cmdop connect exec --label role=web -- uptime   # on every machine labelled role=web",
    "cmdop relay serve --data /var/lib/cmdop   # run a relay",
  ],
  "relay serve": [
    "cmdop relay serve --listen 0.0.0.0:4780 --data /var/lib/cmdop --public-url https://relay.example.com",
    "cmdop relay serve --data /var/lib/cmdop --recording-retention 90d --recording-exec-output 4MiB",
  ],
  "relay workspace create": [
    "cmdop relay workspace create prod --data /var/lib/cmdop --json",
    "cmdop relay workspace create prod --data ./new-relay --init   # a new store",
  ],
  "relay workspace machine-clients": [
    "cmdop relay workspace machine-clients set prod --allow-from role=ci --data /var/lib/cmdop",
    "cmdop relay workspace machine-clients set prod --allow-from role=ci --reach env=staging",
    "cmdop relay workspace machine-clients show prod --data /var/lib/cmdop",
    "cmdop relay workspace machine-clients clear prod --data /var/lib/cmdop",
  ],
  "relay workspace machine-clients set": [
    "cmdop relay workspace machine-clients set prod --allow-from role=ci --data /var/lib/cmdop",
    "cmdop relay workspace machine-clients set prod --allow-from env=build,team=infra --allow-from role=ci",
    "cmdop relay workspace machine-clients set prod --allow-from role=ci --reach env=staging --reach role=cache",
  ],
  "relay workspace machine-clients show": [
    "cmdop relay workspace machine-clients show prod --json --store postgres://cmdop@db/cmdop",
  ],
  "relay workspace machine-clients clear": [
    "cmdop relay workspace machine-clients clear prod --data /var/lib/cmdop   # no machine (the default)",
  ],
  "relay workspace recording": [
    "cmdop relay workspace recording on prod --data /var/lib/cmdop",
    "cmdop relay workspace recording show prod --store postgres://cmdop@db/cmdop --json",
    "cmdop relay workspace recording off prod --data /var/lib/cmdop",
  ],
  "relay workspace recording on": [
    "cmdop relay workspace recording on prod --data /var/lib/cmdop",
  ],
  "relay workspace recording off": [
    "cmdop relay workspace recording off prod --data /var/lib/cmdop   # the default",
  ],
  "relay workspace recording show": [
    "cmdop relay workspace recording show prod --data /var/lib/cmdop --json",
  ],
  "relay user add": [
    "printf '%s\\n' \"$PASSWORD\" | cmdop relay user add ana@example.com --data /var/lib/cmdop \\\n" +
    "    --workspace prod --password-stdin",
  ],
  "relay audit": [
    "cmdop relay audit --data /var/lib/cmdop --since 7d --json   # every workspace, JSON lines",
    "cmdop relay audit --workspace prod --store postgres://cmdop@db/cmdop --machine web-1",
  ],
  "agent run": [
    "cmdop agent run --server https://relay.example.com --enroll-token cme_… --state /var/lib/cmdop-agent",
    "cmdop agent run --server https://relay.example.com --state /var/lib/cmdop-agent \\\n" +
    "    --label env=prod --label role=web   # replaces the saved labels; none given keeps them",
  ],
  "connect": [
    "cmdop connect                 # picker → confirm → attach",
    "cmdop connect web-1           # attach directly",
    "cmdop connect --link-file link.txt   # through a share link kept in a file",
    "cmdop connect --list --online",
    "cmdop connect --list --label role=web --online   # every label given must match",
  ],
  "connect exec": [
    "cmdop connect exec web-1 -- uname -a",
    "cmdop connect exec web-1 --json -q -- df -h",
    "cmdop connect exec web-1 --shell -- 'ps aux | grep nginx'   # through sh -c",
    "cmdop connect exec web-1 --timeout 0 -- ./long-job.sh        # no time limit",
    "cmdop connect exec --link-file link.txt -- uname -a          # through a share link",
    'CMDOP_SHARE_LINK="$(cat link.txt)" cmdop connect exec -- uname -a',
    "cmdop connect exec --label role=web --label env=prod -- uptime   # every matching machine",
    "cmdop connect exec --all --parallel 8 --json -- df -h            # NDJSON, one per machine",
    "cmdop connect exec web-1 --machine-credential /var/lib/cmdop-agent/agent.json -- uptime   # as this machine",
  ],
  "connect cp": [
    "cmdop connect cp ./app.tar.gz web-1:/tmp/",
    "cmdop connect cp -r web-1:/var/log/nginx ./logs",
    "pg_dump db | cmdop connect cp - backup-1:dumps/db.sql",
  ],
  "connect forward": [
    "cmdop connect forward db-1 5432:127.0.0.1:5432     # localhost:5432 reaches db-1's PostgreSQL",
    "cmdop connect forward web-1 0:localhost:8080 --json   # a free port, printed as JSON",
  ],
  "connect share": [
    "cmdop connect share web-1 --ttl 4h",
    "cmdop connect share web-1 --read-only --ttl 1h   # others watch your cmdop connect web-1",
    "cmdop connect share list",
  ],
  "connect share list": ["cmdop connect share list --json"],
  "connect share revoke": ["cmdop connect share revoke 3f2c"],
  "connect audit": [
    "cmdop connect audit                          # the last 24 hours",
    "cmdop connect audit --machine web-1 --since 7d",
    "cmdop connect audit --since 2026-12-01 --json > audit.jsonl   # JSON lines for a SIEM",
  ],
  "connect sessions": [
    "cmdop connect sessions                       # recorded sessions of the last 7 days",
    "cmdop connect sessions --machine web-1 --since 24h --json",
  ],
  "connect replay": [
    "cmdop connect replay 0b6f1c2e-…              # at the speed it happened",
    "cmdop connect replay 0b6f1c2e-… --speed 4 --idle-limit 1",
    "cmdop connect replay 0b6f1c2e-… > s.cast && asciinema play s.cast",
  ],
  "connect key set": [
    "cmdop connect key set < key.txt",
    "cmdop connect key set cmk_… -s https://relay.example.com   # with its relay",
  ],
  "connect key get": ["cmdop connect key get --workspace prod"],
  "connect key clear": ["cmdop connect key clear"],
  "connect workspace list": ["cmdop connect workspace list --json"],
  "connect workspace use": [
    "cmdop connect workspace use prod",
    "cmdop connect workspace use prod --server https://relay.example.com",
  ],
  "connect workspace remove": ["cmdop connect workspace remove staging"],
  "connect workspace sync": ["cmdop login && cmdop connect workspace sync"],
  "connect password set": ["cmdop connect password set web-1 < password.txt"],
  "connect password clear": ["cmdop connect password clear web-1"],
  "connect password list": ["cmdop connect password list"],
  "login": ["cmdop login --server https://relay.example.com"],
  "logout": ["cmdop logout"],
  "terminal": ["cmdop terminal web-1", "cmdop terminal --link-file link.txt"],
  "mcp": [
    "cmdop mcp                                   # for an MCP client: all tools",
    "cmdop mcp --read-only                       # list machines, run nothing",
    "cmdop mcp --allow-label env=staging --deny-command '^(rm|reboot|shutdown)\\b'",
  ],
  "completions": ['eval "$(cmdop completions bash)"'],
};

/** The spec's global flags: what sub-commands inherit from `cmdop connect`. */
const GLOBAL_FLAGS = new Set([
  "--api-key",
  "--server",
  "--workspace",
  "--json",
  "--no-interactive",
]);

/**
 * Adds the examples to every command that has some, and lists the global flags a
 * sub-command inherits under "Inherited flags:" in its help (as gh does).
 *
 * @example
 * ```ts
 * withHelpText(buildProgram(ctx));
 * ```
 */
export function withHelpText(program: Command): void {
  program.configureHelp(helpSettings);
  const visit = (command: Command, path: string) => {
    const examples = EXAMPLES[path];
    if (examples) {
      command.addHelpText("before", `Examples:\n${examples.map((e) => `  $ ${e}`).join("\n")}\n`);
    }
    for (const sub of command.commands as Command[]) {
      sub.configureHelp(helpSettings);
      visit(sub, path ? `${path} ${sub.name()}` : sub.name());
    }
  };
  visit(program, "");
}

const helpSettings: Partial<Help> = {
  showGlobalOptions: true,
  visibleGlobalOptions(command) {
    return Help.prototype.visibleGlobalOptions.call(this, command)
      .filter((option) => option.long !== undefined && GLOBAL_FLAGS.has(option.long));
  },
  formatItemList(heading, items, helper) {
    const title = heading === "Global Options:" ? "Inherited flags:" : heading;
    return Help.prototype.formatItemList.call(this, title, items, helper);
  },
};
