// The share page's script: the link's machine's terminal in the browser, through the relay's
// half-duplex session (Connect's JSON protocol over fetch: output as a server stream, input as
// SendInput calls), the path every proxy in docs/deploy.md carries. Served from the relay
// (src/relay/web/share_page.ts); the link's token is read from the address, never from the HTML.
// Beside this file where the relay serves it (/s/assets/); named at run time, since in the
// source tree they are npm's files, embedded by make gen.
const assetUrl = (name) => new URL(`./${name}`, import.meta.url).href;
const { Terminal } = await import(assetUrl("xterm.mjs"));
const { FitAddon } = await import(assetUrl("addon-fit.mjs"));

/** Output bytes the page takes before its first credit; credit goes back as xterm has drawn them. */
const WINDOW_BYTES = 256 * 1024;
/** How often the page pings the session (its only sign of life on a half-duplex session). */
const KEEPALIVE_MS = 15_000;
/**
 * The interval the page declares, by which the relay judges it gone (twice this and 5 s):
 * longer than its pings, since a browser runs the timers of a tab hidden for minutes once a
 * minute at most.
 */
const DECLARED_KEEPALIVE_MS = 60_000;
/** Typed or pasted bytes waiting for the machine's input credit; more are dropped, said on the status line. */
const MAX_PENDING_INPUT = 1024 * 1024;
/** Largest data frame of one input call (base64 in JSON stays well under the relay's 64 KiB). */
const MAX_INPUT_CHUNK = 16 * 1024;
/** Largest message the page reads from the relay's stream. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const statusLine = document.getElementById("status");
const passwordForm = document.getElementById("password");
const passwordField = document.getElementById("password-field");

const setState = (state, text) => {
  document.body.dataset.state = state;
  statusLine.textContent = text;
};

// xterm writes some of its CSS into <style> elements of its own: each gets the page's style
// nonce (from the stylesheet link, which carries it), so the CSP needs no 'unsafe-inline'.
const styleNonce = document.querySelector("link[nonce]")?.nonce ?? "";
const createElement = Document.prototype.createElement;
Document.prototype.createElement = function (name, options) {
  const element = createElement.call(this, name, options);
  if (styleNonce && String(name).toLowerCase() === "style") element.nonce = styleNonce;
  return element;
};

/** A refusal or failure the relay reported, with its Connect code. */
class CallError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// The link is <relay>/s/<token>, the relay's services under the same prefix.
const link = /^(.*)\/s\/(cms_[A-Za-z0-9_-]+)\/?$/.exec(location.pathname);
const base = link ? location.origin + link[1] : "";
const token = link ? link[2] : "";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const callHeaders = (type) => ({
  "content-type": type,
  "connect-protocol-version": "1",
  authorization: `Bearer ${token}`,
});

const toBase64 = (bytes) => {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
};

const fromBase64 = (text) => {
  const raw = atob((text ?? "").replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
};

/** A unary Connect call with JSON bodies. */
const unary = async (method, body) => {
  const response = await fetch(`${base}/cmdop.v1.${method}`, {
    method: "POST",
    headers: callHeaders("application/json"),
    body: JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CallError("unknown", `the relay answered HTTP ${response.status}`);
  }
  if (!response.ok) throw new CallError(json.code, json.message);
  return json;
};

/** A server-streaming Connect call: each message as parsed JSON, the end-of-stream error thrown. */
async function* serverStream(method, body, signal) {
  const payload = encoder.encode(JSON.stringify(body));
  const envelope = new Uint8Array(5 + payload.length);
  new DataView(envelope.buffer).setUint32(1, payload.length);
  envelope.set(payload, 5);
  const response = await fetch(`${base}/cmdop.v1.${method}`, {
    method: "POST",
    headers: callHeaders("application/connect+json"),
    body: envelope,
    cache: "no-store",
    signal,
  });
  if (!response.ok || !response.body) {
    throw new CallError("unavailable", `the relay answered HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (length > MAX_MESSAGE_BYTES) {
        throw new CallError("resource_exhausted", `a message of ${length} bytes is too large`);
      }
      if (buffer.length < 5 + length) break;
      const flags = buffer[0];
      const message = JSON.parse(decoder.decode(buffer.subarray(5, 5 + length)));
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        if (message.error) throw new CallError(message.error.code, message.error.message);
        return;
      }
      yield message;
    }
    const { value, done } = await reader.read();
    if (done) throw new CallError("unavailable", "the relay closed the session's stream");
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
  }
}

/** Input frames of one half-duplex session, sent in order, one call at a time. */
class InputSender {
  #frames = [];
  #sending = false;
  #handle;
  #onError;

  constructor(onError) {
    this.#onError = onError;
  }

  start(handle) {
    this.#handle = handle;
    this.#flush();
  }

  push(frame) {
    this.#frames.push(frame);
    this.#flush();
  }

  async #flush() {
    if (this.#sending || !this.#handle || this.#frames.length === 0) return;
    this.#sending = true;
    const frames = this.#frames.splice(0, 64);
    try {
      await unary("SessionService/SendInput", {
        sessionId: this.#handle.sessionId,
        inputToken: this.#handle.inputToken,
        frames,
      });
    } catch (error) {
      this.#frames.length = 0;
      this.#onError(error);
    } finally {
      this.#sending = false;
    }
    this.#flush();
  }
}

const terminal = new Terminal({
  cursorBlink: true,
  fontSize: 14,
  scrollback: 5000,
  theme: { background: "#101014" },
});
const fit = new FitAddon();
terminal.loadAddon(fit);
terminal.open(document.getElementById("terminal"));
fit.fit();
terminal.focus();
// The terminal's size as the machine is told it, for whoever looks at the page (tests too).
const showSize = () => document.body.dataset.size = `${terminal.rows} ${terminal.cols}`;
showSize();

const run = async () => {
  if (!link) return setState("refused", "this page is not a share link");
  setState("connecting", "connecting…");
  const { machines } = await unary("MachineService/ListMachines", {});
  const machine = machines?.[0];
  if (!machine) return setState("refused", "this share link reaches no machine");
  const name = machine.hostname;
  document.title = `${name} — cmdop`;

  const abort = new AbortController();
  let ended = false;
  let ready = false;
  let readOnly = false;
  const lost = (error) => {
    if (ended) return;
    ended = true;
    abort.abort();
    setState(ready ? "lost" : "refused", `${ready ? "disconnected" : "refused"}: ${error.message}`);
    terminal.options.disableStdin = true;
  };
  const input = new InputSender(lost);
  let inputCredit = 0;
  const pending = [];
  let pendingBytes = 0;
  let consumed = 0;

  const sendPending = () => {
    while (pending.length > 0 && inputCredit > 0) {
      const next = pending[0];
      const take = Math.min(next.length, inputCredit, MAX_INPUT_CHUNK);
      input.push({ data: toBase64(next.subarray(0, take)) });
      inputCredit -= take;
      pendingBytes -= take;
      if (take === next.length) pending.shift();
      else pending[0] = next.subarray(take);
    }
  };
  terminal.onData((text) => {
    if (!ready || readOnly || ended) return;
    const bytes = encoder.encode(text);
    if (pendingBytes + bytes.length > MAX_PENDING_INPUT) {
      setState("connected", `${name}: input dropped (more than 1 MiB waiting for the machine)`);
      return;
    }
    pending.push(bytes);
    pendingBytes += bytes.length;
    sendPending();
  });
  terminal.onResize(({ rows, cols }) => {
    showSize();
    if (ready && !readOnly && !ended) input.push({ resize: { rows, cols } });
  });
  let fitting = 0;
  globalThis.addEventListener("resize", () => {
    cancelAnimationFrame(fitting);
    fitting = requestAnimationFrame(() => {
      if (!readOnly) fit.fit();
    });
  });
  const pinging = setInterval(
    () => input.push({ keepalive: { sentMs: String(Date.now()) } }),
    KEEPALIVE_MS,
  );
  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    input.push({ auth: { password: passwordField.value } });
    passwordField.value = "";
    setState("connecting", `checking the password of ${name}…`);
    terminal.focus();
  });

  const open = {
    machineId: machine.id,
    kind: "SESSION_KIND_PTY",
    term: "xterm-256color",
    rows: terminal.rows,
    cols: terminal.cols,
    windowBytes: WINDOW_BYTES,
    keepaliveMs: DECLARED_KEEPALIVE_MS,
  };
  try {
    for await (const frame of serverStream("SessionService/HalfSession", open, abort.signal)) {
      if (frame.halfDuplex) input.start(frame.halfDuplex);
      else if (frame.challenge) {
        setState("password", `${name} requires its attach password`);
        passwordField.focus();
      } else if (frame.ready) {
        ready = true;
        // When the session was up, in ms since the page started loading.
        document.body.dataset.readyMs = String(Math.round(performance.now()));
        readOnly = frame.ready.readOnly === true;
        inputCredit = frame.ready.windowBytes ?? 0;
        // As the CLI says on stderr: the relay records this session (input never is).
        const recorded = frame.ready.recorded === true
          ? " · this session is recorded by the relay (input is not)"
          : "";
        document.body.dataset.recorded = String(frame.ready.recorded === true);
        if (readOnly) {
          terminal.options.disableStdin = true;
          terminal.options.cursorBlink = false;
          setState(
            "readonly",
            `read-only: watching a terminal on ${name}; nothing typed is sent${recorded}`,
          );
        } else setState("connected", `connected to ${name}${recorded}`);
        terminal.focus();
      } else if (frame.output) {
        const data = fromBase64(frame.output.data);
        // When the first output came, in ms since the page started loading.
        document.body.dataset.firstOutputMs ??= String(Math.round(performance.now()));
        terminal.write(data, () => {
          // Credit for what xterm has drawn: a slow page holds the machine back, not the relay.
          consumed += data.length;
          if (consumed >= WINDOW_BYTES / 4 && !ended) {
            input.push({ credit: consumed });
            consumed = 0;
          }
        });
      } else if (frame.credit) {
        inputCredit += frame.credit;
        sendPending();
      } else if (frame.resize) {
        terminal.resize(frame.resize.cols, frame.resize.rows);
      } else if (frame.exit) {
        ended = true;
        const { code = 0, signal, error } = frame.exit;
        const how = signal ? `${signal}, exit ${code}` : `exit ${code}`;
        setState("ended", `session ended (${how})${error ? `: ${error}` : ""}`);
        terminal.options.disableStdin = true;
        terminal.write(`\r\n[session ended (${how})]\r\n`);
      }
    }
    if (!ended) lost(new Error("the relay ended the session"));
  } catch (error) {
    lost(error);
  } finally {
    clearInterval(pinging);
  }
};

run().catch((error) => setState("refused", `refused: ${error.message}`));
