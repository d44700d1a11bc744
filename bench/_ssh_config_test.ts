/** Tests of the ssh_config text the jump-host figures pass to ssh with -F. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sshConfig } from "./_ssh_config.ts";

describe("sshConfig()", () => {
  it("writes one Host block with every option indented under it", () => {
    const text = sshConfig("127.0.0.1", {
      IdentityFile: "/tmp/k/user_ed25519",
      StrictHostKeyChecking: "yes",
      UserKnownHostsFile: "/tmp/k/known_hosts",
    });
    assert.equal(
      text,
      "Host 127.0.0.1\n" +
        "  IdentityFile /tmp/k/user_ed25519\n" +
        "  StrictHostKeyChecking yes\n" +
        "  UserKnownHostsFile /tmp/k/known_hosts\n",
    );
  });

  it("quotes a value holding blanks", () => {
    assert.match(
      sshConfig("*", { IdentityFile: "/tmp/a b/key" }),
      /^ {2}IdentityFile "\/tmp\/a b\/key"$/m,
    );
  });

  it("refuses values and keywords that ssh_config cannot hold", () => {
    assert.throws(
      () => sshConfig("*", { IdentityFile: "/tmp/a\nProxyCommand x" }),
      /Ssh option "IdentityFile" has a value ssh_config cannot hold/,
    );
    assert.throws(() => sshConfig("*", { User: 'a"b' }), /cannot hold/);
    assert.throws(() => sshConfig("*", { LogLevel: "" }), /cannot hold/);
    assert.throws(
      () => sshConfig("*", { "Bad Key": "x" }),
      /"Bad Key" is not an ssh_config keyword/,
    );
  });
});
