// gemma3n chat: an interactive multi-turn conversation in the terminal, streamed. The session keeps
// its KV cache between turns, so each turn only runs the new tokens.
import { createInterface } from "node:readline/promises";
import { Command } from "commander";
import type { ChatMessage } from "../tokenizer/chat-template.js";
import { generateOptions, samplingOptions } from "./generate.js";
import { modelOptions, openModel } from "./common.js";

export function registerChat(program: Command): void {
  samplingOptions(modelOptions(program.command("chat").description("chat with the model in the terminal (/reset starts over, /exit or Ctrl-D quits)")))
    .option("--system <text>", "a system prompt")
    .action(async (f) => {
      const model = await openModel(f);
      const session = model.session();
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
      const messages: ChatMessage[] = f.system ? [{ role: "system", content: f.system }] : [];
      const system = messages.length;
      let running: AbortController | undefined;
      // Ctrl-C stops the reply being written; at the prompt it quits.
      rl.on("SIGINT", () => (running ? running.abort() : rl.close()));
      process.stdout.write("Chat with Gemma 3n. /reset starts over, /exit quits.\n");
      const prompt = () => process.stdout.write("> ");
      prompt();
      try {
        // Iterating the lines (rather than rl.question) keeps lines that arrive while a reply is written.
        for await (const line of rl) {
          const text = line.trim();
          if (text === "/exit" || text === "/quit") break;
          if (text === "/reset") {
            messages.length = system;
            session.reset();
          } else if (text) {
            messages.push({ role: "user", content: text });
            running = new AbortController();
            const reply = await session.complete({ messages }, { ...generateOptions(f), signal: running.signal }, (chunk) =>
              process.stdout.write(chunk.text ?? ""),
            );
            running = undefined;
            process.stdout.write(reply.finishReason === "abort" ? " [stopped]\n" : "\n");
            messages.push({ role: "assistant", content: reply.text ?? "" });
          }
          prompt();
        }
      } finally {
        rl.close();
        model.close();
      }
    });
}
