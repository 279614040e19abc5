// Running the built CLI as a user would, and making broken copies of the tiny checkpoint.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { repoRoot, tinyModelDir } from "./helpers.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = join(repoRoot, "dist", "src", "cli", "main.js");

export function cli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    input: opts.input ?? "",
    env: { ...process.env, HF_HUB_OFFLINE: "1", ...opts.env },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like `cli`, without blocking this process (for tests that serve something to the CLI). */
export function cliAsync(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A fresh temp dir removed when the test file ends. */
export function tempDir(prefix = "gemma3n-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A writable copy of the tiny model directory (without the BF16 weights unless asked). */
export function tinyCopy(withBf16 = false): string {
  const dir = tempDir();
  cpSync(tinyModelDir, dir, { recursive: true, filter: (src) => withBf16 || !src.endsWith("model.bf16.safetensors") });
  return dir;
}
