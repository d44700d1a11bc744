/** Tests of the credential chain, the legacy key migration and server resolution. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ConnectionFlags,
  MissingCredentialError,
  NoServerError,
  resolveConnection,
  resolveCredential,
  resolveServer,
} from "./credentials.ts";
import { saveLoginTokens } from "./auth_tokens.ts";
import { writeJsonFile } from "./json_file.ts";
import { readWorkspaces, WorkspaceNotFoundError, type WorkspacesFile } from "./workspaces.ts";
import { fakeEnv, makeTempHome, modeOf, readRawJson, writeRaw } from "./_test_helpers.ts";

interface Setup {
  workspaces?: WorkspacesFile;
  legacy?: unknown;
  login?: boolean;
}

async function homeWith(setup: Setup): Promise<string> {
  const home = await makeTempHome();
  if (setup.workspaces) {
    await writeJsonFile(join(home, "ssh_workspaces.json"), setup.workspaces);
  }
  if (setup.legacy) {
    await writeRaw(join(home, "config.json"), JSON.stringify(setup.legacy));
  }
  if (setup.login) {
    await saveLoginTokens(home, {
      server: "http://login-relay:4780",
      access_token: "login-access",
    });
  }
  return home;
}

function resolve(
  home: string,
  flags: ConnectionFlags = {},
  env: Record<string, string> = {},
) {
  return resolveCredential({ home, env: fakeEnv(env), flags });
}

const everyWorkspace: WorkspacesFile = {
  version: 1,
  active: "prod",
  workspaces: [
    { name: "prod", api_key: "key-active" },
    { name: "named", api_key: "key-named" },
    { name: "empty" },
  ],
};
const legacyConfig = {
  Chat: { GrpcAPIKey: "key-legacy", Model: "m1" },
  Theme: "dark",
};

describe("resolveCredential()", () => {
  it("walks the chain in the spec's order, naming each source", async () => {
    const home = await homeWith({
      workspaces: everyWorkspace,
      legacy: legacyConfig,
      login: true,
    });
    const wsPath = join(home, "ssh_workspaces.json");
    const flagged = await resolve(home, {
      apiKey: "key-flag",
      workspace: "named",
    }, {
      CMDOP_API_KEY: "key-env",
    });
    assert.deepEqual(flagged, {
      credential: "key-flag",
      kind: "api_key",
      source: "--api-key flag",
    });
    const fromEnv = await resolve(home, { workspace: "named" }, {
      CMDOP_API_KEY: "key-env",
    });
    assert.equal(fromEnv.source, "CMDOP_API_KEY environment variable");
    assert.equal(fromEnv.credential, "key-env");
    const named = await resolve(home, { workspace: "named" });
    assert.equal(named.source, `workspace "named" in ${wsPath}`);
    assert.equal(named.credential, "key-named");
    assert.equal(named.workspace?.name, "named");
    const active = await resolve(home);
    assert.equal(active.source, `active workspace "prod" in ${wsPath}`);
    assert.equal(active.credential, "key-active");
  });

  it("falls back to the legacy key, then to the login token", async () => {
    const home = await homeWith({ legacy: legacyConfig, login: true });
    const legacy = await resolve(home);
    assert.equal(legacy.credential, "key-legacy");
    assert.equal(
      legacy.source,
      `legacy cfg.Chat.GrpcAPIKey in ${join(home, "config.json")}, now moved to ` +
        `workspace "default" in ${join(home, "ssh_workspaces.json")}`,
    );
    await writeJsonFile(join(home, "ssh_workspaces.json"), {
      version: 1,
      active: null,
      workspaces: [],
    });
    const login = await resolve(home);
    assert.deepEqual(login, {
      credential: "login-access",
      kind: "login_token",
      source: `login token in ${join(home, "auth.json")} (cmdop login)`,
      workspace: undefined,
      login: {
        server: "http://login-relay:4780",
        access_token: "login-access",
      },
    });
  });

  it("ignores blank flags and variables", async () => {
    const home = await homeWith({ login: true });
    const result = await resolve(home, { apiKey: " " }, { CMDOP_API_KEY: "" });
    assert.equal(result.kind, "login_token");
  });

  it("reads no file when the flag or the variable gives the key", async () => {
    const home = await makeTempHome();
    await writeRaw(join(home, "ssh_workspaces.json"), "not json");
    assert.equal(
      (await resolve(home, {}, { CMDOP_API_KEY: "k" })).credential,
      "k",
    );
  });

  it("rejects an unknown --workspace instead of falling back", async () => {
    const home = await homeWith({ workspaces: everyWorkspace, login: true });
    await assert.rejects(
      resolve(home, { workspace: "prdo" }),
      WorkspaceNotFoundError,
    );
  });

  it("uses the login token, not another workspace's key, when --workspace has no key", async () => {
    const home = await homeWith({
      workspaces: everyWorkspace,
      legacy: legacyConfig,
      login: true,
    });
    const result = await resolve(home, { workspace: "empty" });
    assert.equal(result.kind, "login_token");
    assert.equal(result.workspace?.name, "empty");
    assert.deepEqual(
      await readRawJson(join(home, "config.json")),
      legacyConfig,
    );
  });

  it("fails with exit code 2 and the ways to give a credential", async () => {
    const home = await homeWith({ workspaces: everyWorkspace });
    await assert.rejects(
      resolve(home, { workspace: "empty" }),
      (error: unknown) => {
        assert.ok(error instanceof MissingCredentialError);
        assert.equal(error.exitCode, 2);
        assert.equal(
          error.message,
          'workspace "empty" has no API key and no login was found',
        );
        return true;
      },
    );
    await assert.rejects(resolve(await makeTempHome()), {
      message: "no API key or login found",
      exitCode: 2,
      hint:
        'pass --api-key <KEY>, set CMDOP_API_KEY, run "cmdop connect key set <KEY>", or run "cmdop login"',
    });
  });
});

describe("the legacy key migration", () => {
  it("happens once and keeps every other key of config.json", async () => {
    const home = await homeWith({ legacy: legacyConfig });
    const configPath = join(home, "config.json");
    assert.match(
      (await resolve(home)).source,
      /now moved to workspace "default"/,
    );
    assert.deepEqual(await readRawJson(configPath), {
      Chat: { Model: "m1" },
      Theme: "dark",
    });
    assert.deepEqual(await readWorkspaces(home), {
      version: 1,
      active: "default",
      workspaces: [{ name: "default", api_key: "key-legacy" }],
    });
    assert.equal(await modeOf(configPath), 0o600);
    assert.equal(await modeOf(join(home, "ssh_workspaces.json")), 0o600);
    const configBytes = await Deno.readTextFile(configPath);
    const second = await resolve(home);
    assert.equal(second.credential, "key-legacy");
    assert.match(second.source, /^active workspace "default" in /);
    assert.equal(await Deno.readTextFile(configPath), configBytes);
  });

  it("moves the key into the active workspace when it has none", async () => {
    const home = await homeWith({
      legacy: { Chat: { GrpcAPIKey: "key-legacy" } },
      workspaces: {
        version: 1,
        active: "prod",
        workspaces: [{ name: "prod" }],
      },
    });
    assert.match((await resolve(home)).source, /now moved to workspace "prod"/);
    assert.deepEqual((await readWorkspaces(home)).workspaces, [
      { name: "prod", api_key: "key-legacy" },
    ]);
    assert.deepEqual(await readRawJson(join(home, "config.json")), {
      Chat: {},
    });
  });

  it("leaves both files alone when the target already holds another key", async () => {
    const workspaces: WorkspacesFile = {
      version: 1,
      active: null,
      workspaces: [{ name: "default", api_key: "key-other" }],
    };
    const home = await homeWith({ legacy: legacyConfig, workspaces });
    const result = await resolve(home);
    assert.equal(result.credential, "key-legacy");
    assert.equal(
      result.source,
      `legacy cfg.Chat.GrpcAPIKey in ${join(home, "config.json")}`,
    );
    assert.deepEqual(
      await readRawJson(join(home, "config.json")),
      legacyConfig,
    );
    assert.deepEqual(await readWorkspaces(home), workspaces);
  });

  it("happens once when many resolutions race", async () => {
    const home = await homeWith({ legacy: legacyConfig });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => resolve(home)),
    );
    assert.ok(results.every((r) => r.credential === "key-legacy"));
    assert.equal(
      results.filter((r) => r.source.includes("now moved")).length,
      1,
    );
    assert.equal((await readWorkspaces(home)).workspaces.length, 1);
  });
});

describe("resolveServer()", () => {
  it("walks flag, variable, override, synced server, login server and default", async () => {
    const workspaces: WorkspacesFile = {
      version: 1,
      active: "prod",
      workspaces: [
        {
          name: "prod",
          server: "http://override:1",
          synced_server: "http://synced:1",
        },
        { name: "synced", synced_server: "http://synced:2" },
        { name: "plain" },
      ],
    };
    const home = await homeWith({ workspaces, login: true });
    const wsPath = join(home, "ssh_workspaces.json");
    const server = (flags: ConnectionFlags, env: Record<string, string> = {}) =>
      resolveServer({ home, env: fakeEnv(env), flags });
    assert.deepEqual(
      await server({ server: "http://flag:1" }, {
        CMDOP_SERVER: "http://env:1",
      }),
      {
        server: "http://flag:1",
        source: "--server flag",
      },
    );
    assert.deepEqual(await server({}, { CMDOP_SERVER: "http://env:1" }), {
      server: "http://env:1",
      source: "CMDOP_SERVER environment variable",
    });
    assert.deepEqual(await server({}), {
      server: "http://override:1",
      source: `server override of workspace "prod" in ${wsPath}`,
    });
    assert.deepEqual(await server({ workspace: "synced" }), {
      server: "http://synced:2",
      source: `server of workspace "synced" from workspace sync in ${wsPath}`,
    });
    assert.deepEqual(await server({ workspace: "plain" }), {
      server: "http://login-relay:4780",
      source: `login server in ${join(home, "auth.json")} (cmdop login)`,
    });
    await assert.rejects(server({ workspace: "nope" }), WorkspaceNotFoundError);
  });

  it("refuses to guess a server when nothing names one", async () => {
    const home = await makeTempHome();
    await assert.rejects(
      resolveServer({ home, env: fakeEnv({}), flags: {} }),
      (error) => {
        assert.ok(error instanceof NoServerError);
        assert.equal(error.message, "no relay server configured");
        assert.match(error.hint ?? "", /--server URL.*CMDOP_SERVER.*workspace use.*cmdop login/);
        return true;
      },
    );
  });
});

describe("resolveConnection()", () => {
  it("returns the credential and the server together", async () => {
    const home = await homeWith({ login: true });
    const { credential, server } = await resolveConnection({
      home,
      env: fakeEnv({}),
      flags: {},
    });
    assert.equal(credential.kind, "login_token");
    assert.equal(server.server, "http://login-relay:4780");
  });
});
