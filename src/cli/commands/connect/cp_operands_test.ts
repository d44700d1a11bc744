import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCpOperands } from "./cp_operands.ts";
import { CliError } from "../../errors.ts";

describe("parseCpOperands()", () => {
  it("sends a local file to HOST:PATH", () => {
    assert.deepEqual(parseCpOperands("./app.tgz", "web-1:/tmp/"), {
      direction: "send",
      local: "./app.tgz",
      host: "web-1",
      remotePath: "/tmp/",
    });
  });

  it("fetches HOST:PATH to a local path, and - stays local", () => {
    assert.deepEqual(parseCpOperands("web-1:logs/a.log", "-"), {
      direction: "fetch",
      local: "-",
      host: "web-1",
      remotePath: "logs/a.log",
    });
    assert.equal(parseCpOperands("-", "web-1:x").direction, "send");
  });

  it("reads :PATH as a remote side with no host (a share link's)", () => {
    assert.deepEqual(parseCpOperands(":/etc/hosts", "hosts"), {
      direction: "fetch",
      local: "hosts",
      host: "",
      remotePath: "/etc/hosts",
    });
  });

  it("reads HOST: as the remote home folder", () => {
    assert.equal(parseCpOperands("a.txt", "web-1:").remotePath, "");
  });

  it("treats a colon after a slash as part of a local path", () => {
    assert.equal(parseCpOperands("./a:b", "web-1:c").local, "./a:b");
    assert.equal(parseCpOperands("/x/a:b", "web-1:c").direction, "send");
  });

  it("refuses two remote sides and two local ones, naming the operands", () => {
    assert.throws(
      () => parseCpOperands("a:x", "b:y"),
      (e: unknown) => e instanceof CliError && /both "a:x" and "b:y" are remote/.test(e.message),
    );
    assert.throws(
      () => parseCpOperands("./a", "b"),
      (e: unknown) => e instanceof CliError && /neither "\.\/a" nor "b"/.test(e.message),
    );
  });

  it("refuses a share link typed as an operand without echoing its token", () => {
    assert.throws(
      () => parseCpOperands("https://relay.example/s/cms_secret:/x", "y"),
      (e: unknown) =>
        e instanceof CliError && !e.message.includes("secret") && /--link-file/.test(e.hint!),
    );
  });
});
