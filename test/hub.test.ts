// Tests for src/hub against a local fake of the Hugging Face Hub (node:http on 127.0.0.1):
// the repo API, resolve/ with HEAD + GET, LFS files redirected to a second "CDN" server that
// honours Range. No internet is used.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, readlink, lstat, rm, stat, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  barSink,
  defaultCacheDir,
  defaultEndpoint,
  defaultInclude,
  defaultOffline,
  defaultToken,
  HubError,
  includeGlobs,
  looksLikeRepoId,
  plainLinesSink,
  resolveModelDir,
  snapshotStatus,
  type ProgressSink,
} from "../src/hub/index.js";

// ---------------------------------------------------------------------------------------------
// The fake Hub

const COMMIT = "3f1c0e2d9b8a7c6d5e4f30211203f4e5d6c7b8a9";
const V1_COMMIT = "0000000000111111111122222222223333333333";

function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

interface FakeFile {
  data: Buffer;
  lfs: boolean;
  etag: string;
}

function gitSha1(data: Buffer): string {
  return createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
}

function makeFile(data: Buffer | string, lfs: boolean): FakeFile {
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return { data: buf, lfs, etag: lfs ? createHash("sha256").update(buf).digest("hex") : gitSha1(buf) };
}

const FILES: Record<string, FakeFile> = {
  "config.json": makeFile(JSON.stringify({ model_type: "gemma3n", hidden_size: 8 }), false),
  "tokenizer.json": makeFile(JSON.stringify({ version: "1.0", model: { type: "BPE" } }), false),
  "model.safetensors": makeFile(pseudoRandom(1_500_000, 7), true),
  "README.md": makeFile("# tiny\n", false),
  "extra.gguf": makeFile(pseudoRandom(4096, 9), true),
  "sub/other.safetensors": makeFile(pseudoRandom(1000, 11), true),
};
const DEFAULT_FETCHED = ["config.json", "model.safetensors", "tokenizer.json"];

interface Logged {
  server: "hub" | "cdn";
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

interface Fake {
  hub: http.Server;
  cdn: http.Server;
  hang: http.Server;
  endpoint: string;
  hangEndpoint: string;
  log: Logged[];
  ignoreRange: boolean;
  slow: boolean;
  /** Send only this many bytes of the body, with a Content-Length that matches what is sent. */
  truncateTo: number | undefined;
  /** Destroy the connection after this many body bytes, for the next N responses. */
  dropAfter: number | undefined;
  dropCount: number;
}

const GATED_TOKEN = "hf_good";

function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, headers: http.OutgoingHttpHeaders, fake: Fake): void {
  let start = 0;
  let status = 200;
  const range = req.headers.range;
  if (range && !fake.ignoreRange) {
    const m = /^bytes=(\d+)-$/.exec(range);
    if (!m || Number(m[1]) >= data.length) {
      res.writeHead(416, { "Content-Range": `bytes */${data.length}` });
      res.end();
      return;
    }
    start = Number(m[1]);
    status = 206;
    headers["Content-Range"] = `bytes ${start}-${data.length - 1}/${data.length}`;
  }
  let body = data.subarray(start);
  if (fake.truncateTo !== undefined && req.method === "GET") body = body.subarray(0, fake.truncateTo);
  res.writeHead(status, { ...headers, "Content-Length": body.length, "Accept-Ranges": "bytes" });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  if (fake.dropAfter !== undefined && fake.dropCount > 0 && body.length > fake.dropAfter) {
    fake.dropCount--;
    res.write(body.subarray(0, fake.dropAfter), () => setTimeout(() => res.destroy(), 50));
    return;
  }
  if (!fake.slow) {
    res.end(body);
    return;
  }
  let off = 0;
  const tick = (): void => {
    if (res.destroyed) return;
    if (off >= body.length) {
      res.end();
      return;
    }
    res.write(body.subarray(off, off + 65536));
    off += 65536;
    setTimeout(tick, 15);
  };
  tick();
}

function hubHandler(fake: Fake, cdnBase: () => string) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    fake.log.push({ server: "hub", method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const error = (status: number, code: string, message: string): void => {
      res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message });
      res.end(JSON.stringify({ error: message }));
    };
    const api = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const m = api ?? resolve;
    if (!m) return error(404, "NotFound", "no such route");
    const repo = `${m[1]}/${m[2]}`;
    const revision = decodeURIComponent(m[3] as string);
    if (repo === "test-org/private") return error(401, "RepoNotFound", "Repository not found");
    if (!["test-org/tiny", "test-org/gated", "test-org/evil"].includes(repo)) {
      return error(404, "RepoNotFound", "Repository not found");
    }
    const sha = revision === "main" || revision === COMMIT ? COMMIT : revision === "v1" || revision === V1_COMMIT ? V1_COMMIT : undefined;
    if (!sha) return error(404, "RevisionNotFound", "Invalid rev id: " + revision);

    if (api) {
      const names = repo === "test-org/evil" ? ["config.json", "../../escape.json"] : Object.keys(FILES);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ id: repo, sha, private: false, gated: repo === "test-org/gated" ? "manual" : false, siblings: names.map((rfilename) => ({ rfilename })) }));
      return;
    }
    if (repo === "test-org/gated" && req.headers.authorization !== `Bearer ${GATED_TOKEN}`) {
      const status = req.headers.authorization ? 403 : 401;
      return error(status, "GatedRepo", `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
    }
    const path = decodeURIComponent(m[4] as string);
    const file = FILES[path];
    if (!file) return error(404, "EntryNotFound", `${path} does not exist on "${revision}"`);
    if (file.lfs) {
      res.writeHead(302, {
        Location: `${cdnBase()}/blobs/${file.etag}?signature=abc`,
        "X-Linked-Etag": `"${file.etag}"`,
        "X-Linked-Size": String(file.data.length),
        "X-Repo-Commit": sha,
        "Content-Length": "0",
      });
      res.end();
      return;
    }
    serveBytes(req, res, file.data, { ETag: `"${file.etag}"`, "X-Repo-Commit": sha }, fake);
  };
}

function cdnHandler(fake: Fake) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    fake.log.push({ server: "cdn", method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const etag = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const file = Object.values(FILES).find((f) => f.etag === etag);
    if (!file || url.searchParams.get("signature") !== "abc") {
      res.writeHead(403);
      res.end("bad signature");
      return;
    }
    serveBytes(req, res, file.data, { ETag: `"${file.etag}"` }, fake);
  };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const ENV_KEYS = [
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_ENDPOINT",
  "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN",
  "HF_TOKEN_PATH",
  "HF_HUB_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  "HF_HUB_ETAG_TIMEOUT",
  "HF_HUB_DOWNLOAD_TIMEOUT",
  "XDG_CACHE_HOME",
];
const savedEnv: Record<string, string | undefined> = {};
let fake: Fake;
let root: string;
let cacheDir: string;

before(async () => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  root = await mkdtemp(join(tmpdir(), "gemma3n-hub-"));
  let cdnBase = "";
  fake = {
    log: [],
    ignoreRange: false,
    slow: false,
  } as unknown as Fake;
  fake.hub = http.createServer(hubHandler(fake, () => cdnBase));
  fake.cdn = http.createServer(cdnHandler(fake));
  fake.hang = http.createServer(() => {
    /* never answers */
  });
  fake.endpoint = await listen(fake.hub);
  cdnBase = await listen(fake.cdn);
  fake.hangEndpoint = await listen(fake.hang);
});

after(async () => {
  await Promise.all([close(fake.hub), close(fake.cdn), close(fake.hang)]);
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await rm(root, { recursive: true, force: true });
});

let n = 0;
beforeEach(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HF_HOME = join(root, "hf-home"); // never read a real token file
  cacheDir = join(root, `cache-${n++}`);
  fake.log.length = 0;
  fake.ignoreRange = false;
  fake.slow = false;
  fake.truncateTo = undefined;
  fake.dropAfter = undefined;
  fake.dropCount = 0;
});

const storage = (dir = cacheDir, repo = "test-org/tiny"): string => join(dir, `models--${repo.replace("/", "--")}`);

async function expectHubError(p: Promise<unknown>, code: string, ...fragments: (string | RegExp)[]): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubError, `expected a HubError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const f of fragments) {
      if (typeof f === "string") assert.ok(e.message.includes(f), `message lacks ${JSON.stringify(f)}: ${e.message}`);
      else assert.match(e.message, f);
    }
    return e;
  }
  assert.fail("expected a rejection");
}

/** Lay out a snapshot by hand exactly as Python's huggingface_hub does. */
async function placePythonCache(dir: string, files: string[], ref = "main", commit = COMMIT): Promise<string> {
  const st = storage(dir);
  await mkdir(join(st, "blobs"), { recursive: true });
  await mkdir(join(st, "refs"), { recursive: true });
  await writeFile(join(st, "refs", ref), commit);
  for (const f of files) {
    const file = FILES[f] as FakeFile;
    await writeFile(join(st, "blobs", file.etag), file.data);
    const pointer = join(st, "snapshots", commit, f);
    await mkdir(join(pointer, ".."), { recursive: true });
    await symlink(`${"../".repeat(f.split("/").length + 1)}blobs/${file.etag}`, pointer);
  }
  return join(st, "snapshots", commit);
}

// ---------------------------------------------------------------------------------------------

describe("looksLikeRepoId", () => {
  test("accepts org/name ids", () => {
    for (const id of ["google/gemma-3n-E2B-it", "test-org/tiny", "a/b", "user_1/model.v2", "Org/Name-1.0"]) {
      assert.equal(looksLikeRepoId(id), true, id);
    }
  });
  test("rejects paths and malformed ids", () => {
    for (const id of ["", "gemma", "./models/x", "../x/y", "/abs/path", "a/b/c", "~/m", "a//b", "org/name/", "org--x/y", "org/na..me", "org/name.git", "-org/x", "org/x-", "org/.x", "C:\\m\\x", "org/na me", "x".repeat(50) + "/" + "y".repeat(50)]) {
      assert.equal(looksLikeRepoId(id), false, id);
    }
  });
});

describe("environment defaults", () => {
  test("cache dir follows huggingface_hub's precedence", () => {
    assert.equal(defaultCacheDir({ HF_HUB_CACHE: "/c/hub", HF_HOME: "/h" }), "/c/hub");
    assert.equal(defaultCacheDir({ HUGGINGFACE_HUB_CACHE: "/legacy", HF_HOME: "/h" }), "/legacy");
    assert.equal(defaultCacheDir({ HF_HOME: "/h", XDG_CACHE_HOME: "/x" }), "/h/hub");
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: "/x" }), "/x/huggingface/hub");
    assert.match(defaultCacheDir({}), /[/\\]\.cache[/\\]huggingface[/\\]hub$/);
  });
  test("endpoint, token, offline", async () => {
    assert.equal(defaultEndpoint({}), "https://huggingface.co");
    assert.equal(defaultEndpoint({ HF_ENDPOINT: "https://mirror.example/" }), "https://mirror.example");
    const home = join(root, "token-home");
    await mkdir(home, { recursive: true });
    assert.equal(defaultToken({ HF_HOME: home }), undefined);
    await writeFile(join(home, "token"), "hf_file\n");
    assert.equal(defaultToken({ HF_HOME: home }), "hf_file");
    assert.equal(defaultToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: "hf_old" }), "hf_old");
    assert.equal(defaultToken({ HF_HOME: home, HF_TOKEN: "hf_new", HUGGING_FACE_HUB_TOKEN: "hf_old" }), "hf_new");
    assert.equal(defaultOffline({ HF_HUB_OFFLINE: "1" }), true);
    assert.equal(defaultOffline({ HF_HUB_OFFLINE: "true" }), true);
    assert.equal(defaultOffline({ HF_HUB_OFFLINE: "0" }), false);
    assert.equal(defaultOffline({ TRANSFORMERS_OFFLINE: "YES" }), true);
    assert.equal(defaultOffline({}), false);
  });
  test("include filters", () => {
    const inc = defaultInclude();
    assert.deepEqual(Object.keys(FILES).filter(inc).sort(), DEFAULT_FETCHED);
    assert.ok(inc("model-00001-of-00003.safetensors") && inc("model.safetensors.index.json") && inc("chat_template.jinja"));
    assert.ok(!inc("x.gguf") && defaultInclude({ gguf: true })("x.gguf"));
    const g = includeGlobs(["*.json", "model-0000[12]-*.safetensors"]);
    assert.ok(g("config.json") && g("sub/a.json") && g("model-00001-of-3.safetensors"));
    assert.ok(!g("model-00003-of-3.safetensors") && !g("README.md"));
  });
});

describe("snapshotStatus (is a cached snapshot usable without asking the Hub?)", () => {
  test("every shard named by the safetensors index must be there", async () => {
    const dir = join(root, "status-shards");
    await mkdir(dir, { recursive: true });
    const shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    await writeFile(join(dir, "config.json"), "{}");
    await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: { a: shards[0], b: shards[1], c: shards[1] } }));
    await writeFile(join(dir, shards[0] as string), "x");
    let st = await snapshotStatus(dir, defaultInclude());
    assert.equal(st.complete, false);
    assert.deepEqual(st.missing, [shards[1]]);
    await writeFile(join(dir, shards[1] as string), "x");
    st = await snapshotStatus(dir, defaultInclude());
    assert.equal(st.complete, true, st.missing.join());
  });
  test("config.json and weights are required; a GGUF-only snapshot needs no config", async () => {
    const dir = join(root, "status-gguf");
    await mkdir(dir, { recursive: true });
    assert.deepEqual((await snapshotStatus(dir, defaultInclude())).missing, ["every wanted file"]);
    await writeFile(join(dir, "tokenizer.json"), "{}");
    assert.deepEqual((await snapshotStatus(dir, defaultInclude())).missing, ["config.json", "weights (*.safetensors)"]);
    await writeFile(join(dir, "m.gguf"), "x");
    assert.equal((await snapshotStatus(dir, defaultInclude({ gguf: true }))).complete, true);
    await symlink("../nowhere", join(dir, "config.json")); // a dangling link does not count
    assert.deepEqual((await snapshotStatus(dir, defaultInclude())).missing, ["config.json", "weights (*.safetensors)"]);
  });
});

describe("resolveModelDir against a fake Hub", () => {
  test("first download lays out blobs/, snapshots/, refs/ as huggingface_hub does", async () => {
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, token: false });
    const st = storage();
    assert.equal(dir, join(st, "snapshots", COMMIT));
    assert.deepEqual((await readdir(st)).sort(), ["blobs", "refs", "snapshots"]);
    assert.equal(await readFile(join(st, "refs", "main"), "utf8"), COMMIT); // no newline, like Python
    assert.deepEqual((await readdir(join(st, "snapshots"))), [COMMIT]);
    assert.deepEqual((await readdir(dir)).sort(), DEFAULT_FETCHED);
    assert.deepEqual((await readdir(join(st, "blobs"))).sort(), DEFAULT_FETCHED.map((f) => (FILES[f] as FakeFile).etag).sort());
    for (const f of DEFAULT_FETCHED) {
      const file = FILES[f] as FakeFile;
      assert.ok((await lstat(join(dir, f))).isSymbolicLink(), f);
      assert.equal(await readlink(join(dir, f)), `../../blobs/${file.etag}`);
      assert.ok((await readFile(join(dir, f))).equals(file.data), f);
    }
    // LFS file: sha256-named blob, fetched from the CDN; git file: git-sha1-named blob.
    assert.match((FILES["model.safetensors"] as FakeFile).etag, /^[0-9a-f]{64}$/);
    assert.match((FILES["config.json"] as FakeFile).etag, /^[0-9a-f]{40}$/);
    // The API once, one HEAD per wanted file, GETs only for wanted files; nothing else.
    const hub = fake.log.filter((l) => l.server === "hub");
    assert.equal(hub.filter((l) => l.url.startsWith("/api/")).length, 1);
    assert.equal(hub.filter((l) => l.method === "HEAD").length, 3);
    assert.ok(!fake.log.some((l) => /README|gguf|sub%2F|sub\//.test(l.url)));
    assert.equal(fake.log.filter((l) => l.server === "cdn" && l.method === "GET").length, 1);
    assert.ok(fake.log.every((l) => l.headers.authorization === undefined));
  });

  test("a second call, or a call by commit sha, makes zero requests", async () => {
    const first = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, token: false });
    fake.log.length = 0;
    assert.equal(await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, token: false }), first);
    assert.equal(await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, revision: COMMIT }), first);
    assert.equal(await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, offline: true }), first);
    assert.equal(fake.log.length, 0);
  });

  test("a cache laid out by Python's huggingface_hub is reused without any request", async () => {
    const placed = await placePythonCache(cacheDir, DEFAULT_FETCHED);
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, token: false });
    assert.equal(dir, placed);
    assert.equal(fake.log.length, 0);
  });

  test("a partial Python cache: existing blobs are linked, not downloaded again", async () => {
    await placePythonCache(cacheDir, ["tokenizer.json"]);
    const st = storage();
    const model = FILES["model.safetensors"] as FakeFile;
    await writeFile(join(st, "blobs", model.etag), model.data); // blob of another snapshot, no pointer here
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, token: false });
    assert.ok(fake.log.length > 0);
    assert.equal(fake.log.filter((l) => l.server === "cdn").length, 0, "model blob was reused");
    assert.equal(fake.log.filter((l) => l.method === "GET" && l.url.includes("/resolve/")).length, 1, "only config.json fetched");
    for (const f of DEFAULT_FETCHED) assert.ok((await readFile(join(dir, f))).equals((FILES[f] as FakeFile).data), f);
  });

  test("resumes a partial .incomplete download with a Range request", async () => {
    const model = FILES["model.safetensors"] as FakeFile;
    await mkdir(join(storage(), "blobs"), { recursive: true });
    await writeFile(join(storage(), "blobs", `${model.etag}.incomplete`), model.data.subarray(0, 600_000));
    const starts: number[] = [];
    const sink: ProgressSink = { fileStart: (i) => i.path === "model.safetensors" && starts.push(i.resumeFrom) };
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, progress: sink });
    const cdnGets = fake.log.filter((l) => l.server === "cdn");
    assert.equal(cdnGets.length, 1);
    assert.equal(cdnGets[0]?.headers.range, "bytes=600000-");
    assert.deepEqual(starts, [600_000]);
    assert.ok((await readFile(join(dir, "model.safetensors"))).equals(model.data));
    assert.deepEqual((await readdir(join(storage(), "blobs"))).filter((f) => f.endsWith(".incomplete")), []);
  });

  test("a server that ignores Range (200) makes the download start over", async () => {
    fake.ignoreRange = true;
    const model = FILES["model.safetensors"] as FakeFile;
    await mkdir(join(storage(), "blobs"), { recursive: true });
    await writeFile(join(storage(), "blobs", `${model.etag}.incomplete`), model.data.subarray(0, 600_000));
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir });
    assert.equal(fake.log.find((l) => l.server === "cdn")?.headers.range, "bytes=600000-");
    assert.ok((await readFile(join(dir, "model.safetensors"))).equals(model.data));
    assert.equal((await stat(join(dir, "model.safetensors"))).size, model.data.length);
  });

  test("a corrupt partial file fails the sha256 check, is removed, and a rerun succeeds", async () => {
    const model = FILES["model.safetensors"] as FakeFile;
    const incomplete = join(storage(), "blobs", `${model.etag}.incomplete`);
    await mkdir(join(storage(), "blobs"), { recursive: true });
    await writeFile(incomplete, Buffer.alloc(600_000)); // right length, wrong bytes
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir }), "integrity", "model.safetensors", model.etag);
    await assert.rejects(stat(incomplete));
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir });
    assert.ok((await readFile(join(dir, "model.safetensors"))).equals(model.data));
  });

  test("a truncated body fails the size check and leaves nothing behind", async () => {
    fake.truncateTo = 1000; // the CDN sends a short, self-consistent answer; X-Linked-Size says 1.5 MB
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir }), "integrity", "Size mismatch", "expected 1500000 bytes, got 1000");
    assert.deepEqual((await readdir(join(storage(), "blobs"))).filter((f) => f.startsWith((FILES["model.safetensors"] as FakeFile).etag)), []);
  });

  test("a connection dropped mid-file is retried from where it stopped", async () => {
    fake.dropAfter = 400_000;
    fake.dropCount = 2;
    const model = FILES["model.safetensors"] as FakeFile;
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, timeoutMs: 2000 });
    const ranges = fake.log.filter((l) => l.server === "cdn").map((l) => l.headers.range);
    // Resumes continue from what reached the disk (a TCP reset may discard some in-flight bytes).
    assert.equal(ranges.length, 3);
    assert.equal(ranges[0], undefined);
    const starts = ranges.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r ?? "")?.[1]));
    assert.ok(starts[0]! > 0 && starts[0]! <= 400_000 && starts[1]! > starts[0]! && starts[1]! <= starts[0]! + 400_000, String(ranges));
    assert.ok((await readFile(join(dir, "model.safetensors"))).equals(model.data));
  });

  test("token: sent as Bearer to the Hub, never to the CDN after a cross-origin redirect", async () => {
    await resolveModelDir("test-org/gated", { endpoint: fake.endpoint, cacheDir, token: GATED_TOKEN });
    const hub = fake.log.filter((l) => l.server === "hub");
    const cdn = fake.log.filter((l) => l.server === "cdn");
    assert.ok(hub.length >= 4 && cdn.length === 1);
    for (const l of hub) assert.equal(l.headers.authorization, `Bearer ${GATED_TOKEN}`, l.url);
    for (const l of cdn) assert.equal(l.headers.authorization, undefined);
  });

  test("gated repo without a token: 401 -> HubError telling to accept the license and set HF_TOKEN", async () => {
    await expectHubError(
      resolveModelDir("test-org/gated", { endpoint: fake.endpoint, cacheDir }),
      "unauthorized",
      "HF_TOKEN",
      "accept the license at https://huggingface.co/test-org/gated",
    );
  });

  test("gated repo with a token lacking access: 403 says the token was sent", async () => {
    const e = await expectHubError(resolveModelDir("test-org/gated", { endpoint: fake.endpoint, cacheDir, token: "hf_bad" }), "unauthorized", "HF_TOKEN", "https://huggingface.co/test-org/gated");
    assert.equal(e.status, 403);
    assert.match(e.message, /token was sent/);
  });

  test("private or unknown repo answered with 401 on the API", async () => {
    await expectHubError(resolveModelDir("test-org/private", { endpoint: fake.endpoint, cacheDir }), "unauthorized", "test-org/private", "not found", "HF_TOKEN");
  });

  test("404: unknown repo and unknown revision", async () => {
    await expectHubError(resolveModelDir("test-org/missing", { endpoint: fake.endpoint, cacheDir }), "not_found", "Repository test-org/missing", "not found", fake.endpoint);
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, revision: "nope" }), "not_found", 'Revision "nope" not found in test-org/tiny');
  });

  test("tags and branches get their own refs/ file", async () => {
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, revision: "v1" });
    assert.equal(dir, join(storage(), "snapshots", V1_COMMIT));
    assert.equal(await readFile(join(storage(), "refs", "v1"), "utf8"), V1_COMMIT);
    await assert.rejects(stat(join(storage(), "refs", "main")));
  });

  test("a commit-sha revision writes no ref", async () => {
    await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, revision: COMMIT });
    await assert.rejects(stat(join(storage(), "refs")));
  });

  test("server down: a clear network error naming the endpoint, quickly", async () => {
    const s = http.createServer();
    const down = await listen(s);
    await close(s);
    const t0 = Date.now();
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: down, cacheDir, timeoutMs: 2000 }), "network", `Cannot reach the Hugging Face Hub at ${down}`, "HF_ENDPOINT", "HF_HUB_OFFLINE", "local model directory");
    assert.ok(Date.now() - t0 < 2000);
  });

  test("a server that never answers times out instead of hanging", async () => {
    const t0 = Date.now();
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.hangEndpoint, cacheDir, timeoutMs: 300 }), "network", "Timed out", fake.hangEndpoint);
    assert.ok(Date.now() - t0 < 3000);
  });

  test("offline with an empty cache: a clear error and no request", async () => {
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, offline: true }), "offline", "HF_HUB_OFFLINE", "test-org/tiny", cacheDir);
    process.env.HF_HUB_OFFLINE = "1";
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir }), "offline", "not in the Hugging Face cache");
    assert.equal(fake.log.length, 0);
  });

  test("offline with an incomplete snapshot names what is missing", async () => {
    await placePythonCache(cacheDir, ["tokenizer.json"]);
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, offline: true }), "offline", "config.json", "weights");
    assert.equal(fake.log.length, 0);
  });

  test("HF_ENDPOINT, HF_HUB_CACHE and HF_TOKEN are honoured", async () => {
    process.env.HF_ENDPOINT = fake.endpoint + "/";
    process.env.HF_HUB_CACHE = join(root, "env-cache");
    process.env.HF_TOKEN = "hf_from_env";
    const dir = await resolveModelDir("test-org/tiny");
    assert.equal(dir, join(root, "env-cache", "models--test-org--tiny", "snapshots", COMMIT));
    assert.ok(fake.log.length > 0);
    for (const l of fake.log.filter((x) => x.server === "hub")) assert.equal(l.headers.authorization, "Bearer hf_from_env");
  });

  test("an AbortSignal stops a download mid-file; the partial file is resumed later", async () => {
    fake.slow = true;
    const ac = new AbortController();
    let seen = 0;
    const sink: ProgressSink = {
      advance(bytes, path) {
        if (path !== "model.safetensors") return;
        seen += bytes;
        if (seen >= 200_000) ac.abort();
      },
    };
    const t0 = Date.now();
    await assert.rejects(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, signal: ac.signal, progress: sink }), (e: Error) => e.name === "AbortError");
    assert.ok(Date.now() - t0 < 3000);
    const model = FILES["model.safetensors"] as FakeFile;
    const partial = (await stat(join(storage(), "blobs", `${model.etag}.incomplete`))).size;
    assert.ok(partial > 0 && partial < model.data.length, `partial ${partial}`);
    await assert.rejects(stat(join(storage(), "snapshots", COMMIT, "config.json")), "config.json is placed last");

    fake.slow = false;
    fake.log.length = 0;
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir });
    assert.equal(fake.log.find((l) => l.server === "cdn")?.headers.range, `bytes=${partial}-`);
    assert.ok((await readFile(join(dir, "model.safetensors"))).equals(model.data));
  });

  test("an already aborted signal rejects before any request", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, signal: ac.signal }), (e: Error) => e.name === "AbortError");
    assert.equal(fake.log.length, 0);
  });

  test("include: GGUF only when asked, nested files only when the filter says so", async () => {
    const dir = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, include: defaultInclude({ gguf: true }) });
    assert.deepEqual((await readdir(dir)).sort(), ["config.json", "extra.gguf", "model.safetensors", "tokenizer.json"]);
    const dir2 = await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir: join(cacheDir, "b"), include: includeGlobs(["sub/*", "config.json"]) });
    assert.equal(await readlink(join(dir2, "sub", "other.safetensors")), `../../../blobs/${(FILES["sub/other.safetensors"] as FakeFile).etag}`);
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, include: () => false }), "no_files", "README.md");
  });

  test("refuses unsafe file names and repo ids", async () => {
    await expectHubError(resolveModelDir("test-org/evil", { endpoint: fake.endpoint, cacheDir }), "invalid", "../../escape.json");
    await expectHubError(resolveModelDir("../etc/passwd", { endpoint: fake.endpoint, cacheDir }), "invalid");
    await expectHubError(resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, revision: "../../x" }), "invalid");
  });

  test("progress: plain lines and a cli-progress bar", async () => {
    const lines: string[] = [];
    await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir, progress: plainLinesSink((l) => lines.push(l)) });
    assert.equal(lines.length, 5, lines.join(""));
    assert.match(lines[0] as string, /^Downloading test-org\/tiny@main \(commit 3f1c0e2d9b\): 3 files, 1\.50 MB/);
    assert.match(lines[4] as string, /^Downloaded 1\.50 MB in/);

    let out = "";
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          out += String(chunk);
          cb();
        },
      }),
      { isTTY: true, columns: 160 },
    ) as unknown as NodeJS.WriteStream;
    await resolveModelDir("test-org/tiny", { endpoint: fake.endpoint, cacheDir: join(cacheDir, "bar"), progress: barSink(tty) });
    assert.match(out, /test-org\/tiny \|.*\| 100% \| 1\.50 MB\/1\.50 MB/);
  });
});
