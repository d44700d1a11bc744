/** How the program in a pseudo-terminal is started as a session leader on each OS, and the default login shell. */

import type { OsFacts } from "./_pty_libc.ts";
import { parentDeathPrefix } from "./parent_death.ts";

/**
 * The current user's login shell as argv: `SHELL`, else the `/etc/passwd`
 * entry of the current uid, else `/bin/sh`; each only if it is an executable
 * file. `-l` makes it a login shell (bash, zsh, fish, dash and ksh accept it).
 *
 * @example
 * ```ts
 * loginShell({ SHELL: "/bin/bash" }); // ["/bin/bash", "-l"]
 * ```
 */
export function loginShell(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  passwdPath = "/etc/passwd",
): string[] {
  for (const shell of [env.SHELL, passwdShell(passwdPath)]) {
    if (shell && isExecutableFile(shell)) return [shell, "-l"];
  }
  return ["/bin/sh", "-l"];
}

function passwdShell(passwdPath: string): string | undefined {
  const uid = Deno.uid();
  if (uid === null) return undefined;
  let passwd: string;
  try {
    passwd = Deno.readTextFileSync(passwdPath);
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 7 && Number(fields[2]) === uid && fields[2] !== "") {
      return fields[6].trim();
    }
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  if (!path.startsWith("/")) return false;
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The command that starts a program as a session leader on `tty`. */
export interface Launcher {
  program: string;
  args(tty: string, argv: string[]): string[];
}

/**
 * A program that makes the command a session leader and opens the terminal as
 * its stdin, stdout and stderr, which makes it the controlling terminal.
 * Deno cannot call setsid() between fork and exec itself, and `detached` only
 * creates a process group.
 */
export function launcher(facts: OsFacts): Launcher {
  if (Deno.build.os === "darwin") {
    // macOS has no setsid(1) but ships perl; opening a tty does not make it the controlling one there, TIOCSCTTY does.
    const perl = "/usr/bin/perl";
    if (!isExecutableFile(perl)) {
      throw new Error(`Terminal sessions on macOS need "${perl}", which was not found`);
    }
    const script = 'use POSIX (); POSIX::setsid() or die "setsid: $!\\n"; ' +
      "my ($request, $tty) = splice(@ARGV, 0, 2); " +
      'open(my $t, "+<", $tty) or die "$tty: $!\\n"; ioctl($t, $request, 0); ' +
      "POSIX::dup2(fileno($t), $_) for 0 .. 2; " +
      'exec { $ARGV[0] } @ARGV; print STDERR "$ARGV[0]: $!\\n"; exit 127;';
    return {
      program: perl,
      args: (tty, argv) => ["-e", script, String(facts.TIOCSCTTY), tty, ...argv],
    };
  }
  const setsid = findProgram("setsid");
  if (!setsid) {
    throw new Error(
      `Terminal sessions need the "setsid" program (util-linux), which was not found`,
    );
  }
  // The terminal's program dies with the agent, even by SIGKILL (the same pid all along: no fork).
  const [program, ...prefix] = [...parentDeathPrefix(), setsid];
  // Opening the tty without O_NOCTTY in the new session leader makes it the controlling terminal.
  return {
    program,
    args: (tty, argv) => [
      ...prefix,
      "/bin/sh",
      "-c",
      'tty=$1; shift; exec "$@" <>"$tty" >&0 2>&0',
      "cmdop",
      tty,
      ...argv,
    ],
  };
}

function findProgram(name: string): string | undefined {
  const dirs = ["/usr/bin", "/bin", ...(Deno.env.get("PATH") ?? "").split(":")];
  return dirs.map((dir) => `${dir}/${name}`).find(isExecutableFile);
}
