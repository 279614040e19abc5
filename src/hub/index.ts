/**
 * Models by name from the Hugging Face Hub: resolveModelDir("google/gemma-3n-E2B-it") returns a
 * local snapshot folder in the standard Hugging Face cache, downloading what is missing.
 *
 * Why our own client rather than @huggingface/hub (evaluated at v2.17.5, which does take a custom
 * `hubUrl` and runs on Node 20): its downloadFileToCacheDir always writes `.incomplete` from byte
 * 0 (no Range resume, which matters for 3-5 GB shards), has no progress callback and no
 * AbortSignal, and snapshotDownload fetches every file of the repo with no include filter; it
 * also lists files with the paths-info/tree APIs, logs each download with console.debug, and
 * brings a WASM dependency for xet. What we need is a few hundred lines on Node's fetch and
 * streams: the repo API, a HEAD per file, a resumable GET, and the cache layout of Python's
 * huggingface_hub (blobs/ + snapshots/ + refs/), so that caches are shared both ways.
 *
 * Not done: cross-process locking (.locks/ with flock in Python; Node has no flock). Two
 * processes fetching the same new blob at once may corrupt its .incomplete file; the size and
 * hash checks then reject it, and a rerun resumes cleanly. Node's fetch ignores HTTPS_PROXY.
 */
import { join, resolve as resolvePath } from "node:path";
import {
  blobPath,
  existsFollow,
  fileSize,
  linkBlob,
  readRef,
  snapshotDir,
  snapshotStatus,
  storageFolder,
  writeRef,
} from "./cache.js";
import { downloadBlob, headFile, type FileMeta } from "./download.js";
import {
  defaultCacheDir,
  defaultDownloadTimeoutMs,
  defaultEndpoint,
  defaultMetadataTimeoutMs,
  defaultOffline,
  defaultToken,
} from "./env.js";
import { HubError, isAbortError } from "./errors.js";
import { authHeaders, Deadline, httpError, send, throwIfUserAborted, translateError, type HubContext } from "./http.js";
import { progressSinkFor, type ProgressSink } from "./progress.js";
import { isCommitSha, isSafeRepoPath, isSafeRevision, looksLikeRepoId } from "./repo-id.js";

export { HubError, isAbortError, type HubErrorCode } from "./errors.js";
export { looksLikeRepoId, isCommitSha, repoFolderName } from "./repo-id.js";
export { defaultCacheDir, defaultEndpoint, defaultOffline, defaultToken, hfHome } from "./env.js";
export { snapshotStatus, type SnapshotStatus } from "./cache.js";
export { barSink, plainLinesSink, formatBytes, type ProgressSink, type ProgressFile } from "./progress.js";

export interface ResolveOptions {
  /** Branch, tag or commit sha. Default "main". */
  revision?: string;
  /**
   * Sent as "Authorization: Bearer". Default: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the
   * token file of `hf auth login` ($HF_HOME/token). "" or false: send none.
   */
  token?: string | false;
  /** Default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Which repo files to fetch. Default defaultInclude(): config, tokenizer and safetensors files. */
  include?: (filename: string) => boolean;
  /** Use the cache only (default: HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** true: a bar on an interactive stderr, else a few plain lines; a sink: events; default silent. */
  progress?: boolean | ProgressSink;
  signal?: AbortSignal;
  /** Overrides both the metadata timeout (HF_HUB_ETAG_TIMEOUT) and the download stall timeout (HF_HUB_DOWNLOAD_TIMEOUT), in ms. */
  timeoutMs?: number;
  /** Files downloaded at once. Default 4. */
  concurrency?: number;
}

/** The files a Gemma 3n checkpoint needs; top-level only. */
export const DEFAULT_INCLUDE_FILES: readonly string[] = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "special_tokens_map.json",
  "model.safetensors.index.json",
];

/** The default file filter: DEFAULT_INCLUDE_FILES and *.safetensors at the repo's top level, plus *.gguf when asked. */
export function defaultInclude(opts: { gguf?: boolean } = {}): (filename: string) => boolean {
  return (f) =>
    !f.includes("/") &&
    (DEFAULT_INCLUDE_FILES.includes(f) || f.endsWith(".safetensors") || (opts.gguf === true && f.endsWith(".gguf")));
}

/** A filter from fnmatch-style patterns (like huggingface_hub's allow_patterns: "*" also matches "/"). */
export function includeGlobs(patterns: readonly string[]): (filename: string) => boolean {
  const res = patterns.map((p) => {
    let src = "";
    for (let i = 0; i < p.length; i++) {
      const c = p[i] as string;
      if (c === "*") src += ".*";
      else if (c === "?") src += ".";
      else if (c === "[") {
        const end = p.indexOf("]", i + 2);
        if (end === -1) src += "\\[";
        else {
          let body = p.slice(i + 1, end).replace(/\\/g, "\\\\");
          if (body.startsWith("!")) body = "^" + body.slice(1);
          src += `[${body}]`;
          i = end;
        }
      } else src += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
    return new RegExp(`^${src}$`, "s");
  });
  return (f) => res.some((re) => re.test(f));
}

interface RevisionInfo {
  sha: string;
  files: string[];
}

/** GET {endpoint}/api/models/{repo}/revision/{revision}: the commit sha and the repo's file list. */
async function fetchRevisionInfo(ctx: HubContext): Promise<RevisionInfo> {
  const url = `${ctx.endpoint}/api/models/${ctx.repoId}/revision/${encodeURIComponent(ctx.revision)}`;
  const deadline = new Deadline(ctx.signal);
  deadline.arm(ctx.metadataTimeoutMs);
  try {
    const { res } = await send(url, {
      method: "GET",
      headers: { ...authHeaders(ctx), accept: "application/json" },
      deadline,
      follow: "relative",
    });
    if (!res.ok) throw await httpError(res, ctx, { kind: "api" });
    let json: { sha?: unknown; siblings?: unknown };
    try {
      json = (await res.json()) as typeof json;
    } catch (e) {
      if (ctx.signal?.aborted || deadline.timedOut) throw e;
      throw new HubError(`The Hub at ${ctx.endpoint} sent an unreadable answer for ${ctx.repoId}.`, { code: "http", cause: e });
    }
    if (typeof json.sha !== "string" || !isCommitSha(json.sha) || !Array.isArray(json.siblings)) {
      throw new HubError(`The Hub at ${ctx.endpoint} sent an unexpected answer for ${ctx.repoId} (no commit sha or file list).`, {
        code: "http",
      });
    }
    const files: string[] = [];
    for (const s of json.siblings as unknown[]) {
      const name = (s as { rfilename?: unknown } | null)?.rfilename;
      if (typeof name !== "string") continue;
      if (!isSafeRepoPath(name)) {
        throw new HubError(`Refusing the unsafe file name ${JSON.stringify(name)} listed by ${ctx.repoId}.`, { code: "invalid" });
      }
      files.push(name);
    }
    return { sha: json.sha, files };
  } catch (e) {
    throw translateError(e, deadline, ctx, `looking up ${ctx.repoId}@${ctx.revision}`);
  } finally {
    deadline.dispose();
  }
}

/** Run `task` over `items`, at most `limit` at a time; the first failure aborts the rest (via `stop`). */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>, stop: () => void): Promise<void> {
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (e) {
        if (!failed) {
          failed = true;
          firstError = e;
          stop();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw firstError;
}

/** Downloads of the same blob within this process share one promise. */
const inflight = new Map<string, Promise<void>>();

async function fetchFiles(
  ctx: HubContext,
  storage: string,
  commit: string,
  paths: string[],
  sink: ProgressSink,
  concurrency: number,
): Promise<void> {
  // One controller for the batch: the caller's abort or the first failure stops every transfer.
  const batch = new AbortController();
  const user = ctx.signal;
  const onAbort = (): void => batch.abort(user?.reason);
  if (user?.aborted) batch.abort(user.reason);
  else user?.addEventListener("abort", onAbort, { once: true });
  const bctx: HubContext = { ...ctx, signal: batch.signal };
  const stop = (): void => batch.abort(new DOMException("stopped after another file failed", "AbortError"));
  const snap = snapshotDir(storage, commit);
  let started = false;
  try {
    const metas: FileMeta[] = new Array(paths.length);
    await pool(paths.map((p, i) => [p, i] as const), 8, async ([p, i]) => {
      metas[i] = await headFile(bctx, commit, p);
    }, stop);

    const toFetch: FileMeta[] = [];
    for (const m of metas) {
      const size = await fileSize(blobPath(storage, m.etag));
      if (size === undefined || (m.size !== undefined && size !== m.size)) toFetch.push(m);
    }
    if (toFetch.length > 0) sink.start?.({
      repoId: ctx.repoId,
      revision: ctx.revision,
      commit,
      files: toFetch.map((m) => ({ path: m.path, size: m.size })),
      totalBytes: toFetch.reduce((a, m) => a + (m.size ?? 0), 0),
    });
    started = toFetch.length > 0;

    const place = async (m: FileMeta): Promise<void> => {
      const blob = blobPath(storage, m.etag);
      if (toFetch.includes(m)) {
        for (;;) {
          const shared = inflight.get(blob);
          if (shared) {
            // Another call in this process is fetching the same blob. If it was aborted by its own
            // caller, try again here; and it may have finished with the blob in place.
            try {
              await shared;
              break;
            } catch (e) {
              if (!isAbortError(e) || bctx.signal?.aborted) throw e;
              continue;
            }
          }
          const own = downloadBlob(bctx, commit, m, blob, sink).finally(() => inflight.delete(blob));
          inflight.set(blob, own);
          await own;
          break;
        }
      }
      await linkBlob(blob, join(snap, m.path));
      if (toFetch.includes(m)) sink.fileDone?.({ path: m.path, size: (await fileSize(blob)) ?? m.size ?? 0 });
    };
    // config.json goes last: a snapshot with config.json is a finished one (see snapshotStatus).
    const last = metas.filter((m) => m.path === "config.json");
    await pool(metas.filter((m) => m.path !== "config.json"), concurrency, place, stop);
    for (const m of last) await place(m);
    if (started) sink.finish?.(true);
  } catch (e) {
    if (started) sink.finish?.(false);
    if (user?.aborted) throw user.reason ?? e;
    throw e;
  } finally {
    user?.removeEventListener("abort", onAbort);
  }
}

/**
 * The local snapshot folder of `repoId` at `opts.revision`: <cache>/models--org--name/snapshots/<commit>.
 *
 * When refs/<revision> (or the revision itself, if it is a commit sha) names a snapshot that
 * already holds the wanted files, no request is made at all. Otherwise the Hub API gives the
 * commit and file list, and missing files are downloaded (resumably) into the shared cache.
 * Failures are HubErrors; an abort rejects with the signal's reason.
 */
export async function resolveModelDir(repoId: string, opts: ResolveOptions = {}): Promise<string> {
  if (!looksLikeRepoId(repoId)) {
    throw new HubError(`"${repoId}" is not a Hugging Face repo id of the form org/name (and is not an existing local path).`, {
      code: "invalid",
    });
  }
  const revision = opts.revision ?? "main";
  if (!isSafeRevision(revision)) throw new HubError(`Invalid revision ${JSON.stringify(revision)}.`, { code: "invalid" });
  const cacheDir = resolvePath(opts.cacheDir ?? defaultCacheDir());
  const endpoint = (opts.endpoint ?? defaultEndpoint()).trim().replace(/\/+$/, "");
  const token = opts.token === undefined ? defaultToken() : opts.token || undefined;
  const offline = opts.offline ?? defaultOffline();
  const include = opts.include ?? defaultInclude();
  const ctx: HubContext = {
    repoId,
    revision,
    endpoint,
    cacheDir,
    ...(token ? { token } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    metadataTimeoutMs: opts.timeoutMs ?? defaultMetadataTimeoutMs(),
    downloadTimeoutMs: opts.timeoutMs ?? defaultDownloadTimeoutMs(),
  };
  throwIfUserAborted(opts.signal);

  const storage = storageFolder(cacheDir, repoId);
  const cachedCommit = isCommitSha(revision) ? revision : await readRef(storage, revision);
  if (cachedCommit) {
    const status = await snapshotStatus(snapshotDir(storage, cachedCommit), include);
    if (status.complete) return snapshotDir(storage, cachedCommit);
    if (offline) {
      throw new HubError(
        `Offline mode is on (HF_HUB_OFFLINE) and the cached snapshot of ${repoId}@${revision} ` +
          `(${snapshotDir(storage, cachedCommit)}) is incomplete: it lacks ${status.missing.join(", ")}. ` +
          `Run once with network access to finish the download, or pass a local model directory.`,
        { code: "offline" },
      );
    }
  } else if (offline) {
    throw new HubError(
      `Offline mode is on (HF_HUB_OFFLINE) and ${repoId}@${revision} is not in the Hugging Face cache at ${cacheDir}. ` +
        `Download it once with network access (or with Python: hf download ${repoId}), ` +
        `point HF_HUB_CACHE at a cache that has it, or pass a local model directory.`,
      { code: "offline" },
    );
  }

  const info = await fetchRevisionInfo(ctx);
  const commit = info.sha;
  if (commit !== revision) await writeRef(storage, revision, commit);
  const wanted = info.files.filter((f) => include(f));
  if (wanted.length === 0) {
    const shown = info.files.slice(0, 12).join(", ") + (info.files.length > 12 ? ", ..." : "");
    const gguf = info.files.some((f) => f.endsWith(".gguf"))
      ? " It holds GGUF files: pick one with an include filter (e.g. defaultInclude({ gguf: true }) or includeGlobs([\"*Q4_K_M.gguf\"]))."
      : "";
    throw new HubError(`${repoId}@${revision} has no file the include filter accepts (it has: ${shown || "nothing"}).${gguf}`, {
      code: "no_files",
    });
  }
  const snap = snapshotDir(storage, commit);
  const missing: string[] = [];
  for (const f of wanted) if (!(await existsFollow(join(snap, f)))) missing.push(f);
  if (missing.length > 0) {
    const sink = progressSinkFor(opts.progress);
    await fetchFiles(ctx, storage, commit, missing, sink, Math.max(1, opts.concurrency ?? 4));
  }
  return snap;
}
