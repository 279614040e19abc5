/**
 * Download progress: a cli-progress bar on an interactive stderr, a few plain lines otherwise,
 * or any caller-supplied ProgressSink.
 */
import cliProgress from "cli-progress";

export interface ProgressFile {
  path: string;
  /** Bytes, when the Hub said (X-Linked-Size / Content-Length). */
  size: number | undefined;
}

/** Receives download events. All methods are optional; none is called when nothing needs downloading. */
export interface ProgressSink {
  /** Once, before the first byte: the files that will be downloaded and their total size. */
  start?(info: { repoId: string; revision: string; commit: string; files: ProgressFile[]; totalBytes: number }): void;
  /** A file's transfer starts (again, after a retry or a server that ignored Range): bytes already on disk. */
  fileStart?(info: { path: string; size: number | undefined; resumeFrom: number }): void;
  /** Bytes received for a file. */
  advance?(bytes: number, path: string): void;
  /** A file is complete, verified and linked into the snapshot. */
  fileDone?(info: { path: string; size: number }): void;
  /** Once, at the end, successful or not. */
  finish?(ok: boolean): void;
}

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** Plain lines: one at the start, one per finished file, one at the end. */
export function plainLinesSink(write: (line: string) => void): ProgressSink {
  let started = 0;
  let count = 0;
  let done = 0;
  let bytes = 0;
  return {
    start(info) {
      started = Date.now();
      count = info.files.length;
      write(
        `Downloading ${info.repoId}@${info.revision} (commit ${info.commit.slice(0, 10)}): ` +
          `${count} file${count === 1 ? "" : "s"}, ${formatBytes(info.totalBytes)}\n`,
      );
    },
    fileDone(info) {
      done++;
      bytes += info.size;
      write(`  [${done}/${count}] ${info.path} (${formatBytes(info.size)})\n`);
    },
    finish(ok) {
      if (count === 0) return;
      const ms = Date.now() - started;
      write(
        ok
          ? `Downloaded ${formatBytes(bytes)} in ${formatSeconds(ms)}` +
              (ms > 0 ? ` (${formatBytes((bytes * 1000) / ms)}/s)\n` : "\n")
          : `Download stopped after ${done} of ${count} files; run again to resume.\n`,
      );
    },
  };
}

/** One bar for all bytes of the download, on stderr. */
export function barSink(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  let bar: cliProgress.SingleBar | undefined;
  const perFile = new Map<string, number>();
  let total = 0;
  let started = 0;
  const payload = (file: string): Record<string, string> => {
    let value = 0;
    for (const v of perFile.values()) value += v;
    const ms = Date.now() - started;
    return {
      file: file.length > 40 ? `…${file.slice(-39)}` : file,
      done: formatBytes(value),
      size: formatBytes(total),
      speed: ms > 500 ? `${formatBytes((value * 1000) / ms)}/s` : "",
    };
  };
  const render = (file: string): void => {
    if (!bar) return;
    let value = 0;
    for (const v of perFile.values()) value += v;
    bar.update(Math.min(value, total), payload(file));
  };
  return {
    start(info) {
      total = Math.max(info.totalBytes, 1);
      started = Date.now();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${info.repoId} |{bar}| {percentage}% | {done}/{size} | {speed} | ETA {eta_formatted} | {file}`,
          hideCursor: true,
          barsize: 30,
          etaBuffer: 200,
          fps: 8,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, payload(""));
    },
    fileStart(info) {
      perFile.set(info.path, info.resumeFrom);
      render(info.path);
    },
    advance(n, path) {
      perFile.set(path, (perFile.get(path) ?? 0) + n);
      render(path);
    },
    fileDone(info) {
      perFile.set(info.path, info.size);
      render(info.path);
    },
    finish() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** true: a bar when stderr is a TTY, else plain lines; false/undefined: silent; an object: itself. */
export function progressSinkFor(progress: boolean | ProgressSink | undefined): ProgressSink {
  if (progress === undefined || progress === false) return {};
  if (progress === true) {
    return process.stderr.isTTY ? barSink(process.stderr) : plainLinesSink((l) => process.stderr.write(l));
  }
  return progress;
}
