/**
 * One repo file: learn its etag/size with a HEAD (like huggingface_hub), then stream it into
 * blobs/<etag>.incomplete (resuming with Range), verify size and hash, and rename it into place.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { fileSize } from "./cache.js";
import { HubError } from "./errors.js";
import { authHeaders, Deadline, httpError, send, throwIfUserAborted, translateError, type HubContext } from "./http.js";
import type { ProgressSink } from "./progress.js";

export interface FileMeta {
  path: string;
  /** Normalized etag: sha256 for LFS files, git blob sha1 for regular files. */
  etag: string;
  size: number | undefined;
}

export function resolveUrl(ctx: HubContext, commit: string, path: string): string {
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return `${ctx.endpoint}/${ctx.repoId}/resolve/${encodeURIComponent(commit)}/${encoded}`;
}

/** huggingface_hub's _normalize_etag: drop a weak marker and the quotes. */
export function normalizeEtag(etag: string): string {
  return etag.trim().replace(/^W\//, "").replace(/^"+|"+$/g, "");
}

function parseSize(v: string | null): number | undefined {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** HEAD {endpoint}/{repo}/resolve/{commit}/{path}, following only relative redirects. */
export async function headFile(ctx: HubContext, commit: string, path: string): Promise<FileMeta> {
  const deadline = new Deadline(ctx.signal);
  deadline.arm(ctx.metadataTimeoutMs);
  try {
    const { res } = await send(resolveUrl(ctx, commit, path), {
      method: "HEAD",
      headers: authHeaders(ctx),
      deadline,
      follow: "relative",
    });
    if (res.status >= 400) throw await httpError(res, ctx, { kind: "file", path, commit });
    const raw = res.headers.get("x-linked-etag") ?? res.headers.get("etag");
    if (!raw || normalizeEtag(raw) === "") {
      throw new HubError(`The Hub at ${ctx.endpoint} sent no ETag for ${path} in ${ctx.repoId}; cannot cache it safely.`, {
        code: "http",
      });
    }
    const etag = normalizeEtag(raw);
    if (!/^[A-Za-z0-9._-]+$/.test(etag)) {
      throw new HubError(`The Hub at ${ctx.endpoint} sent an unusable ETag for ${path}: ${raw}`, { code: "http" });
    }
    return {
      path,
      etag,
      size: parseSize(res.headers.get("x-linked-size")) ?? parseSize(res.headers.get("content-length")),
    };
  } catch (e) {
    throw translateError(e, deadline, ctx, `looking up ${path} in ${ctx.repoId}`);
  } finally {
    deadline.dispose();
  }
}

interface Verifier {
  hash: Hash;
  expected: string;
  what: string;
}

/** sha256 for a 64-hex etag (LFS), git blob sha1 ("blob <size>\0" + bytes) for a 40-hex one. */
function verifierFor(meta: FileMeta): Verifier | undefined {
  const etag = meta.etag.toLowerCase();
  if (/^[0-9a-f]{64}$/.test(etag)) return { hash: createHash("sha256"), expected: etag, what: "sha256" };
  if (/^[0-9a-f]{40}$/.test(etag) && meta.size !== undefined) {
    const hash = createHash("sha1");
    hash.update(`blob ${meta.size}\0`);
    return { hash, expected: etag, what: "git sha1" };
  }
  return undefined;
}

async function hashFilePrefix(path: string, bytes: number, hash: Hash, signal: AbortSignal | undefined): Promise<void> {
  if (bytes === 0) return;
  const stream = createReadStream(path, { start: 0, end: bytes - 1, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

class Retry extends Error {}

/**
 * One GET attempt into `incomplete`, appending from `have` when the server honours Range.
 * Returns the verifier fed with the whole file, or undefined when the etag is not a known hash.
 */
async function getInto(
  ctx: HubContext,
  commit: string,
  meta: FileMeta,
  incomplete: string,
  have: number,
  sink: ProgressSink,
): Promise<Verifier | undefined> {
  const deadline = new Deadline(ctx.signal);
  deadline.arm(ctx.downloadTimeoutMs);
  try {
    const headers = authHeaders(ctx);
    if (have > 0) headers.range = `bytes=${have}-`;
    const { res } = await send(resolveUrl(ctx, commit, meta.path), { method: "GET", headers, deadline, follow: "all" });
    if (res.status === 416) {
      // What we have is not a prefix of this file: start over.
      await res.body?.cancel().catch(() => undefined);
      await rm(incomplete, { force: true });
      throw new Retry("range not satisfiable");
    }
    if (!res.ok) throw await httpError(res, ctx, { kind: "file", path: meta.path, commit });
    let append = false;
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (have === 0 || !m || Number(m[1]) !== have) {
        await res.body?.cancel().catch(() => undefined);
        await rm(incomplete, { force: true });
        throw new Retry("unexpected Content-Range");
      }
      append = true;
    }
    const from = append ? have : 0; // a 200 answer to a Range request: the server sent everything
    const verifier = verifierFor(meta);
    if (verifier && from > 0) await hashFilePrefix(incomplete, from, verifier.hash, deadline.signal);
    sink.fileStart?.({ path: meta.path, size: meta.size, resumeFrom: from });
    if (!res.body) throw new HubError(`Empty answer while downloading ${meta.path}.`, { code: "network" });
    const body = Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>);
    const timeoutMs = ctx.downloadTimeoutMs;
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          deadline.arm(timeoutMs); // a stall timeout, not a limit on the whole transfer
          verifier?.hash.update(chunk);
          sink.advance?.(chunk.length, meta.path);
          yield chunk;
        }
      },
      createWriteStream(incomplete, { flags: append ? "a" : "w" }),
    );
    return verifier;
  } catch (e) {
    if (e instanceof Retry) throw e;
    throw translateError(e, deadline, ctx, `downloading ${meta.path} from ${ctx.repoId}`);
  } finally {
    deadline.dispose();
  }
}

const MAX_RETRIES = 4;

/** Download a file into `blob` (blobs/<etag>) through `blob`.incomplete, resuming what is there. */
export async function downloadBlob(
  ctx: HubContext,
  commit: string,
  meta: FileMeta,
  blob: string,
  sink: ProgressSink,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  await mkdir(dirname(blob), { recursive: true });
  let verifier: Verifier | undefined;
  for (let attempt = 0; ; attempt++) {
    throwIfUserAborted(ctx.signal);
    let have = (await fileSize(incomplete)) ?? 0;
    if (meta.size !== undefined && have > meta.size) {
      await rm(incomplete, { force: true });
      have = 0;
    }
    try {
      if (meta.size !== undefined && have === meta.size && have > 0) {
        // Fully downloaded before, never renamed (a crash between the last byte and the rename).
        verifier = verifierFor(meta);
        if (verifier) await hashFilePrefix(incomplete, have, verifier.hash, ctx.signal);
        sink.fileStart?.({ path: meta.path, size: meta.size, resumeFrom: have });
      } else {
        verifier = await getInto(ctx, commit, meta, incomplete, have, sink);
      }
      break;
    } catch (e) {
      if (ctx.signal?.aborted) throw e;
      const retryable = e instanceof Retry || (e instanceof HubError && e.code === "network");
      if (!retryable || attempt >= MAX_RETRIES) {
        throw e instanceof Retry ? new HubError(`Could not download ${meta.path}: ${e.message}.`, { code: "http" }) : e;
      }
      await sleep(Math.min(250 * 2 ** attempt, 4000), undefined, ctx.signal ? { signal: ctx.signal } : {}).catch(() => {
        throwIfUserAborted(ctx.signal);
      });
    }
  }

  const got = (await fileSize(incomplete)) ?? 0;
  if (meta.size !== undefined && got !== meta.size) {
    await rm(incomplete, { force: true });
    throw new HubError(
      `Size mismatch after downloading ${meta.path} from ${ctx.repoId}: expected ${meta.size} bytes, got ${got}. ` +
        `The partial file was removed; run again to retry.`,
      { code: "integrity" },
    );
  }
  if (verifier) {
    const actual = verifier.hash.digest("hex");
    if (actual !== verifier.expected) {
      await rm(incomplete, { force: true });
      throw new HubError(
        `Checksum mismatch after downloading ${meta.path} from ${ctx.repoId}: the ETag says ${verifier.what} ` +
          `${verifier.expected}, the file has ${actual}. The partial file was removed; run again to retry.`,
        { code: "integrity" },
      );
    }
  }
  await rename(incomplete, blob);
}
