/** Tests for BareLineFeeds: bare line feeds become vertical tabs, everything else passes untouched. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BareLineFeeds } from "./terminal_output.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe("BareLineFeeds", () => {
  it("replaces a line feed without a carriage return before it by a vertical tab", () => {
    assert.equal(text(new BareLineFeeds().transform(bytes("ab\ncd\n"))), "ab\vcd\v");
  });

  it("returns the very same chunk when there is nothing to change", () => {
    const chunk = bytes("top\r\nline two\r\n\x1b[2J");
    assert.equal(new BareLineFeeds().transform(chunk), chunk);
  });

  it("never changes its input", () => {
    const chunk = bytes("a\nb");
    new BareLineFeeds().transform(chunk);
    assert.equal(text(chunk), "a\nb");
  });

  it("remembers a carriage return that ended the previous chunk", () => {
    const feeds = new BareLineFeeds();
    assert.equal(text(feeds.transform(bytes("one\r"))), "one\r");
    assert.equal(text(feeds.transform(bytes("\ntwo\n"))), "\ntwo\v");
    assert.equal(text(feeds.transform(bytes("\nthree"))), "\vthree");
  });

  it("passes an empty chunk through", () => {
    assert.equal(new BareLineFeeds().transform(new Uint8Array(0)).length, 0);
  });
});
