/** Tests of the warnings printed before a credential is exposed: command line, plain http off this machine. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CliContext } from "./context.ts";
import type { RunState } from "./globals.ts";
import { isLoopbackUrl, warnCredentialExposure } from "./exposure_warnings.ts";

function fakeCtx(): { ctx: CliContext; text: () => string } {
  let text = "";
  const ctx = {
    stderr: {
      write: (s: string) => {
        text += s;
        return Promise.resolve();
      },
    },
  } as unknown as CliContext;
  return { ctx, text: () => text };
}

describe("isLoopbackUrl()", () => {
  it("knows this machine's addresses from others", () => {
    for (
      const url of [
        "http://127.0.0.1:4780",
        "http://127.9.9.9",
        "http://localhost:1",
        "http://[::1]:80",
      ]
    ) {
      assert.equal(isLoopbackUrl(url), true, url);
    }
    for (
      const url of ["http://10.0.0.1", "http://relay.example.com", "http://127.0.0.1.example.com"]
    ) {
      assert.equal(isLoopbackUrl(url), false, url);
    }
  });
});

describe("warnCredentialExposure()", () => {
  it("warns once per run about a plain-http relay off this machine", async () => {
    const { ctx, text } = fakeCtx();
    const state: RunState = {};
    const access = { server: "http://relay.example.com", credentialSource: "CMDOP_API_KEY" };
    await warnCredentialExposure(ctx, state, access);
    await warnCredentialExposure(ctx, state, access);
    assert.equal(text().match(/over plain http/g)?.length, 1, text());
    assert.match(text(), /CMDOP_API_KEY/);
  });

  it("says nothing for https or loopback, and names --api-key on the command line", async () => {
    const { ctx, text } = fakeCtx();
    await warnCredentialExposure(ctx, {}, {
      server: "https://relay.example.com",
      credentialSource: "CMDOP_API_KEY",
    });
    await warnCredentialExposure(ctx, {}, {
      server: "http://127.0.0.1:4780",
      credentialSource: "active workspace",
    });
    assert.equal(text(), "");
    await warnCredentialExposure(ctx, {}, {
      server: "https://relay.example.com",
      credentialSource: "--api-key flag",
    });
    assert.match(text(), /--api-key can be read by any local user/);
  });
});
