import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkLabels,
  formatLabels,
  LABEL_LIMITS,
  LabelError,
  matchesLabels,
  parseLabel,
  parseLabels,
} from "./labels.ts";

describe("labels", () => {
  it("parseLabels() reads key=value pairs, empty values included", () => {
    assert.deepEqual(parseLabels(["env=prod", "role=web", "zone=eu-west/1", "note="]), {
      env: "prod",
      role: "web",
      zone: "eu-west/1",
      note: "",
    });
  });

  it("parseLabel() refuses malformed labels, naming them", () => {
    assert.throws(() => parseLabel("role"), /label "role" is not key=value/);
    assert.throws(() => parseLabel("=web"), /label "=web": key must start/);
    assert.throws(() => parseLabel("ro le=web"), /label "ro le=web": key must start/);
    assert.throws(() => parseLabel("role=a,b"), /label "role=a,b": value may hold only/);
    assert.throws(() => parseLabel("role=a=b"), LabelError);
  });

  it("parseLabels() refuses a key given twice", () => {
    assert.throws(() => parseLabels(["env=a", "env=b"]), /label "env" is given twice/);
  });

  it("checkLabels() enforces the count and length limits, naming them", () => {
    const many = Object.fromEntries(
      Array.from({ length: LABEL_LIMITS.count + 1 }, (_, i) => [`k${i}`, "v"]),
    );
    assert.throws(() => checkLabels(many), /33 labels is more than the limit of 32/);
    assert.throws(() => checkLabels({ ["k".repeat(64)]: "v" }), /limit of 63 characters/);
    assert.throws(() => checkLabels({ k: "v".repeat(129) }), /limit of 128 characters/);
    checkLabels({ ["k".repeat(63)]: "v".repeat(128) });
  });

  it("matchesLabels() needs every wanted label, and an empty selector matches all", () => {
    const labels = { env: "prod", role: "web" };
    assert.equal(matchesLabels(labels, { role: "web" }), true);
    assert.equal(matchesLabels(labels, { role: "web", env: "staging" }), false);
    assert.equal(matchesLabels(labels, { zone: "" }), false);
    assert.equal(matchesLabels(labels, {}), true);
    assert.equal(matchesLabels({}, { toString: "x" }), false);
  });

  it("formatLabels() sorts by key", () => {
    assert.equal(formatLabels({ role: "web", env: "prod" }), "env=prod,role=web");
    assert.equal(formatLabels({}), "");
  });
});
