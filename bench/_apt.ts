/** Installs the Debian packages a benchmark needs, only when their programs are missing. */

/** A program the benchmarks run and the Debian package that ships it. */
export interface Requirement {
  /** Absolute path of the program, e.g. `/usr/sbin/sshd`. */
  program: string;
  /** Debian package that provides it, e.g. `openssh-server`. */
  pkg: string;
}

const POLICY_RC_D = "/usr/sbin/policy-rc.d";

/**
 * Installs with `apt-get` the packages of every requirement whose program is
 * missing; does nothing when all are present.
 *
 * @example
 * ```ts
 * await ensurePrograms([{ program: "/usr/sbin/sshd", pkg: "openssh-server" }]);
 * ```
 */
export async function ensurePrograms(
  requirements: Requirement[],
): Promise<void> {
  const missing = requirements.filter((r) => !exists(r.program));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((r) => r.pkg))];
  console.error(`installing ${pkgs.join(", ")} with apt-get`);
  // Installing openssh-server would otherwise start the system's own sshd on
  // port 22 and leave it running; policy-rc.d exit 101 tells dpkg not to.
  const ownPolicy = !exists(POLICY_RC_D);
  if (ownPolicy) {
    Deno.writeTextFileSync(POLICY_RC_D, "#!/bin/sh\nexit 101\n", {
      mode: 0o755,
    });
  }
  try {
    if (
      !(await aptGet(["install", "-y", "--no-install-recommends", ...pkgs]))
    ) {
      // A fresh machine has no package lists yet.
      await aptGet(["update"]);
      if (
        !(await aptGet(["install", "-y", "--no-install-recommends", ...pkgs]))
      ) {
        throw new Error(`Cannot install "${pkgs.join(" ")}" with apt-get`);
      }
    }
  } finally {
    if (ownPolicy) Deno.removeSync(POLICY_RC_D);
  }
  for (const r of missing) {
    if (!exists(r.program)) {
      throw new Error(
        `Package "${r.pkg}" installed but "${r.program}" is still missing`,
      );
    }
  }
}

async function aptGet(args: string[]): Promise<boolean> {
  const out = await new Deno.Command("apt-get", {
    args: ["-q", ...args],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(new TextDecoder().decode(out.stderr).trim());
  }
  return out.success;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
