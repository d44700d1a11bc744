/** ATTACH_HELP: how interactive attach behaves, shown under `cmdop connect --help` and `cmdop terminal --help`. */

/**
 * Help text for the attach forms of `cmdop connect [hostname]` and
 * `cmdop terminal [host]`. Kept apart from the command so that `--help`
 * loads nothing else.
 *
 * @example
 * ```ts
 * command.addHelpText("after", ATTACH_HELP);
 * ```
 */
export const ATTACH_HELP = `
Interactive attach:
  With no hostname, a picker lists the workspace's machines, most recently
  used first, online ones marked; type to filter, Enter to choose, then
  confirm. When that session ends the picker comes back; Ctrl-C in the
  picker quits (exit 130). With a hostname the picker is skipped.

  Inside a session the terminal is in raw mode: every key goes to the remote
  shell (Ctrl-C interrupts the remote command), except Ctrl-D, which
  disconnects and is not sent (so a remote program reading until end of
  input, like "cat > file", has to be ended with Ctrl-C). Window resizes
  follow. The exit status is the remote shell's; 0 after Ctrl-D.

When stdin is not a terminal (a pipe or a file):
  No pseudo-terminal is allocated, as with "ssh -T": the remote login shell
  reads its commands from stdin, its stdout and stderr arrive separately and
  byte for byte, and cmdop exits with the shell's status. A hostname is then
  required, as the picker needs a terminal.

  echo 'uname -a' | cmdop connect web-1

With --no-interactive (or --json) nothing is ever prompted: a hostname is
required.
`;
