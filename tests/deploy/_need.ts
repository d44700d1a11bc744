/** The Debian programs the deployment tests run (nginx, haproxy, Caddy, squid, tinyproxy, openssl, systemd-analyze), installed with apt-get when missing. */
import { join } from "node:path";
import { test } from "node:test";

const PACKAGES: Record<string, string> = {
  nginx: "nginx-light",
  haproxy: "haproxy",
  caddy: "caddy",
  squid: "squid",
  tinyproxy: "tinyproxy",
  openssl: "openssl",
  "systemd-analyze": "systemd",
  curl: "curl",
};

/**
 * Where `name` is on this machine, PATH or the sbin folders; undefined when missing.
 *
 * @example
 * ```ts
 * const nginx = findProgram("nginx") ?? "nginx";
 * ```
 */
export function findProgram(name: string): string | undefined {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, "/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"]) {
    try {
      if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch { /* not there */ }
  }
  return undefined;
}

/**
 * Installs the missing programs (apt-get as root, never starting a system service), and
 * resolves why a test cannot run, or undefined. Under `CI=true` a missing program is a failing
 * test named after `what`, never a silent skip; elsewhere the skip is announced loudly.
 *
 * @example
 * ```ts
 * const skip = await needTools("nginx in front", ["nginx", "openssl"]);
 * describe("nginx in front", { skip }, () => {});
 * ```
 */
export async function needTools(what: string, names: string[]): Promise<string | undefined> {
  const missing = names.filter((n) => !findProgram(n));
  let reason: string | undefined;
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((n) => PACKAGES[n] ?? n))];
    reason = await aptInstall(packages);
    const still = missing.filter((n) => !findProgram(n));
    reason = still.length === 0
      ? undefined
      : `missing ${still.join(", ")}${reason ? `: ${reason}` : ""}`;
  }
  if (reason === undefined) return undefined;
  if (Deno.env.get("CI") === "true") {
    test(`${what} has the programs it needs`, () => {
      throw new Error(reason);
    });
  } else {
    const bar = "!".repeat(72);
    console.error(`\n${bar}\n!! ${what} SKIPPED: ${reason}\n${bar}\n`);
  }
  return reason;
}

async function aptInstall(packages: string[]): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not root, so apt-get cannot run";
  // A server package must not start the system's own instance while it installs.
  const policy = "/usr/sbin/policy-rc.d";
  let ownPolicy = false;
  try {
    await Deno.writeTextFile(policy, "#!/bin/sh\nexit 101\n", { createNew: true, mode: 0o755 });
    ownPolicy = true;
  } catch { /* one is there already */ }
  try {
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const apt = (args: string[]) =>
      new Deno.Command("apt-get", {
        args: ["-o", "DPkg::Lock::Timeout=300", "-q", ...args],
        env,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
    await apt(["update"]);
    const out = await apt(["install", "-y", "--no-install-recommends", ...packages]);
    return out.success ? undefined : new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
  } finally {
    if (ownPolicy) await Deno.remove(policy).catch(() => {});
  }
}
