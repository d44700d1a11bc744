/** The bench's OpenSSH client options written as an ssh_config file, so that a ProxyJump hop gets them too. */

/**
 * An ssh_config `Host` block giving `options` (keyword → value, as for `-o`)
 * to every host matching `pattern`. `ssh -F FILE -J hop host` passes `-F FILE`
 * on to the `ssh -W` it starts for the hop, but neither `-i` nor `-o`: options
 * the hop needs must come from the file. Values holding blanks are quoted;
 * values that ssh_config cannot hold (quotes, line breaks) are refused.
 *
 * @example
 * ```ts
 * sshConfig("127.0.0.1", { IdentityFile: "/tmp/key", BatchMode: "yes" });
 * // "Host 127.0.0.1\n  IdentityFile /tmp/key\n  BatchMode yes\n"
 * ```
 */
export function sshConfig(pattern: string, options: Record<string, string>): string {
  const lines = [`Host ${configValue("Host", pattern)}`];
  for (const [keyword, value] of Object.entries(options)) {
    if (!/^[A-Za-z]+$/.test(keyword)) {
      throw new Error(`Ssh option "${keyword}" is not an ssh_config keyword`);
    }
    lines.push(`  ${keyword} ${configValue(keyword, value)}`);
  }
  return lines.join("\n") + "\n";
}

function configValue(keyword: string, value: string): string {
  if (value === "" || /["\r\n\\]/.test(value)) {
    throw new Error(`Ssh option "${keyword}" has a value ssh_config cannot hold: "${value}"`);
  }
  return /\s/.test(value) ? `"${value}"` : value;
}
