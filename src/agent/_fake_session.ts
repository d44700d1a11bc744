/** FakeSession: the agent's side of a session driven as the relay would, in memory, for unit tests. */
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Exit,
  type OpenSessionSchema,
  OpenSessionSchema as OpenSchema,
  type SessionInput,
  SessionInputSchema,
  SessionKind,
  type SessionOutput,
} from "../../gen/cmdop/v1/session_pb.ts";
import { AsyncQueue } from "../lib/async_queue.ts";
import type { SessionChannel } from "./channel.ts";

const encoder = new TextEncoder();

/** A session as the relay would drive it: frames in, frames out, and the text seen so far. */
export class FakeSession {
  readonly inputs = new AsyncQueue<SessionInput>();
  readonly outputs: SessionOutput[] = [];
  text = "";
  outputBytes = 0;
  inputCredit = 0;
  readonly done: Promise<void>;
  #changed?: () => void;
  #decoder = new TextDecoder();

  /** Runs `run` (the agent's side of a session) on a channel opened with `open`. */
  constructor(
    open: MessageInitShape<typeof OpenSessionSchema>,
    run: (channel: SessionChannel) => Promise<void>,
  ) {
    const channel: SessionChannel = {
      open: create(OpenSchema, {
        kind: SessionKind.PTY,
        rows: 24,
        cols: 80,
        ...open,
      }),
      inputs: this.inputs,
      send: (output) => {
        this.outputs.push(output);
        if (output.msg.case === "output") {
          this.outputBytes += output.msg.value.data.length;
          this.text += this.#decoder.decode(output.msg.value.data, {
            stream: true,
          });
        } else if (output.msg.case === "credit") {
          this.inputCredit += output.msg.value;
        }
        this.#changed?.();
        return true;
      },
    };
    this.done = run(channel);
  }

  send(msg: MessageInitShape<typeof SessionInputSchema>["msg"]): void {
    this.inputs.push(create(SessionInputSchema, { msg }));
  }

  type(line: string): void {
    this.send({ case: "data", value: encoder.encode(line + "\r") });
  }

  /** The ready frame, once it came. */
  get ready() {
    const first = this.outputs[0]?.msg;
    return first?.case === "ready" ? first.value : undefined;
  }

  get exit(): Exit | undefined {
    const last = this.outputs.at(-1)?.msg;
    return last?.case === "exit" ? last.value : undefined;
  }

  /** Waits until `check` holds, re-checking whenever a frame arrives. */
  async until<T>(
    what: string,
    check: () => T | undefined | false,
    timeoutMs = 5_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; output so far: ${JSON.stringify(this.text)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    return this.until(
      `${pattern}`,
      () => this.text.match(pattern) ?? undefined,
    );
  }

  async exited(): Promise<Exit> {
    await this.done;
    assert.ok(this.exit, "the last frame is the exit frame");
    return this.exit;
  }
}

export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
