// `--model ORG/NAME` end to end: the CLI fetches the tiny checkpoint from a local server that speaks
// the Hub's file endpoints (named by HF_ENDPOINT), into an HF_HUB_CACHE, then runs it from the cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cliAsync, tempDir } from "./cli-helpers.js";
import { golden } from "./golden.js";
import { tinyModelDir } from "./helpers.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const files = Object.fromEntries(
  readdirSync(tinyModelDir)
    .filter((f) => f !== "model.bf16.safetensors")
    .map((f) => [f, readFileSync(join(tinyModelDir, f))]),
);

test("generate --model test-org/tiny downloads through HF_ENDPOINT, then runs offline from the cache", async () => {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/api/models/test-org/tiny/revision/main") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ id: "test-org/tiny", sha: SHA, siblings: Object.keys(files).map((rfilename) => ({ rfilename })) }));
    }
    const m = /^\/test-org\/tiny\/resolve\/[^/]+\/(.+)$/.exec(url.pathname);
    const data = m ? files[decodeURIComponent(m[1]!)] : undefined;
    if (!data) {
      res.writeHead(404, { "X-Error-Code": "EntryNotFound" });
      return res.end();
    }
    // Small files are git blobs: their etag is the git sha1 of the content.
    const etag = createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
    res.writeHead(200, { ETag: `"${etag}"`, "X-Repo-Commit": SHA, "Content-Length": data.length });
    res.end(req.method === "HEAD" ? undefined : data);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const env = { HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, HF_HUB_CACHE: tempDir(), HF_HUB_OFFLINE: "0" };
  const ids = Array.from(golden("hf-tiny", "text", "input_ids.npy").data).join(",");
  const args = ["generate", "--model", "test-org/tiny", "--ids", ids, "--max-tokens", "20", "--greedy", "--ignore-eos", "--json"];
  try {
    const first = await cliAsync(args, env);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).ids, Array.from(golden("hf-tiny", "text", "generated_ids.npy").data));
    assert.ok(requests.some((r) => r.includes("/resolve/") && r.endsWith("model.safetensors")), requests.join("\n"));
    assert.ok(readFileSync(join(env.HF_HUB_CACHE, "models--test-org--tiny", "refs", "main"), "utf8").startsWith(SHA));
    requests.length = 0;
    const offline = await cliAsync(args, { ...env, HF_HUB_OFFLINE: "1" });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.stdout, first.stdout);
    const again = await cliAsync(args, env);
    assert.equal(again.stdout, first.stdout);
    assert.deepEqual(requests, [], "a complete cached snapshot needs no request");
    const missing = await cliAsync(["info", "--model", "test-org/nothing"], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^gemma3n: .*test-org\/nothing/);
  } finally {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  }
});
