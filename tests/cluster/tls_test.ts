/** The relay over TLS with a private CA: HTTP/2 offered by ALPN, agent --ca-file, CLI CMDOP_CA_FILE, the error without it. */
import { after, before, describe, it } from "../_suite.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clientEnv,
  killAll,
  type RelayProcess,
  runCmdop,
  spawnCli,
  startRelay,
  type Workspace,
} from "../_harness.ts";
import { readUntil } from "./_streams.ts";
import { needTools } from "../_tools.ts";
import { makeCertificates } from "../_tls.ts";

const skip = await needTools("relay over TLS", ["openssl"]);

describe("relay over TLS", { skip }, () => {
  let dir: string;
  let relay: RelayProcess;
  let ws: Workspace;

  before(async () => {
    dir = await Deno.makeTempDir({ prefix: "cmdop-tls-" });
    await makeCertificates(dir);
    relay = await startRelay({
      extraArgs: ["--tls-cert", join(dir, "relay.pem"), "--tls-key", join(dir, "relay.key")],
    });
    ws = await relay.createWorkspace("secure");
  });
  after(async () => {
    await killAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });

  it("listens on https and offers HTTP/2 through ALPN", async () => {
    assert.match(relay.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const out = await new Deno.Command("openssl", {
      args: ["s_client", "-connect", new URL(relay.url).host, "-alpn", "h2,http/1.1"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.match(new TextDecoder().decode(out.stdout), /ALPN protocol: h2/);
  });

  it("serves an agent with --ca-file and a client with CMDOP_CA_FILE", async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "cmdop-agent-" });
    const agent = spawnCli([
      "agent",
      "run",
      "--server",
      relay.url,
      "--ca-file",
      join(dir, "ca.pem"),
      "--enroll-token",
      ws.enroll_token,
      "--state",
      stateDir,
      "--hostname",
      "vault",
    ]);
    await readUntil(agent.stderr, /online as machine/);
    const env = { ...(await clientEnv(relay.url, ws.api_key)), CMDOP_CA_FILE: join(dir, "ca.pem") };
    const hello = await runCmdop(["connect", "exec", "vault", "--", "echo", "sealed"], { env });
    assert.equal(hello.stdout, "sealed\n");
    assert.equal(hello.code, 0);
    const bulk = await runCmdop([
      "connect",
      "exec",
      "vault",
      "--",
      "head",
      "-c",
      "20000000",
      "/dev/zero",
    ], {
      env,
    });
    assert.equal(bulk.stdoutBytes.length, 20_000_000);
  });

  it("refuses a relay whose certificate no trusted CA signed, saying why", async () => {
    const env = await clientEnv(relay.url, ws.api_key);
    const r = await runCmdop(["connect", "--list"], { env });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: cannot reach the relay at https:\S+ \(CMDOP_SERVER environment variable\): invalid peer certificate: UnknownIssuer\n/,
    );
    assert.match(r.stderr, /hint: .*CMDOP_CA_FILE/);
    const login = await runCmdop(["login", "--json"], { env });
    assert.equal(login.code, 1);
    assert.match(
      login.stderr,
      /cannot reach the relay at https:\S+ \(CMDOP_SERVER environment variable\): invalid peer certificate: UnknownIssuer/,
    );
    assert.match(login.stderr, /hint: .*CMDOP_CA_FILE/);
    const missing = await runCmdop(["connect", "--list"], {
      env: { ...env, CMDOP_CA_FILE: join(dir, "missing.pem") },
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the CA file ".*missing\.pem" \(CMDOP_CA_FILE\)/);
  });
});
