/**
 * The BPE model of HF `tokenizers` (`model.type == "BPE"`), as Gemma uses it: character-level start, byte fallback,
 * fused unknowns, merges applied in rank order with a priority queue over a doubly linked list of symbols
 * (O(n log n) per word, so a single word of tens of kilobytes encodes quickly).
 *
 * The merge loop mirrors `tokenizers`' `Word::merge_all`: the queue pops the lowest (rank, position) pair, stale
 * entries are skipped when the pair at that position no longer produces the same new id, and after each merge the
 * pairs formed with the left and right neighbours are queued.
 */
import { TokenizerError } from "./errors.js";

export interface BpeOptions {
  /** token -> id of `model.vocab`. */
  vocab: Map<string, number>;
  /** Merges in rank order (index = rank). */
  merges: ReadonlyArray<readonly [string, string]>;
  unkToken?: string | null;
  fuseUnk?: boolean;
  byteFallback?: boolean;
  ignoreMerges?: boolean;
}

/** Binary min-heap of numbers (keys pack rank and position, see `packKey`). */
class MinHeap {
  private data: number[] = [];
  get size(): number {
    return this.data.length;
  }
  /** Replace the contents with `items` and restore the heap property in O(n). */
  reset(items: number[]): void {
    this.data = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }
  push(v: number): void {
    const a = this.data;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pv = a[p]!;
      if (pv <= v) break;
      a[i] = pv;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.data;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }
  private down(i: number): void {
    const a = this.data;
    const n = a.length;
    const v = a[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && a[r]! < a[c]!) c = r;
      const cv = a[c]!;
      if (cv >= v) break;
      a[i] = cv;
      i = c;
    }
    a[i] = v;
  }
}

/** 2^32: positions are below it, so `rank * POS_SPAN + pos` orders by rank, then position (like tokenizers' Merge). */
const POS_SPAN = 4294967296;

/** UTF-8 bytes of one code point (a lone surrogate encodes as U+FFFD, like TextEncoder). */
function utf8Bytes(cp: number, out: number[]): void {
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

export class BpeModel {
  private readonly vocab: Map<string, number>;
  /** pair key (left * pairBase + right) -> merge rank; later duplicates of a pair win, as in tokenizers. */
  private readonly mergeRank: Map<number, number>;
  /** rank -> id of the merged token. */
  private readonly mergeNewId: Int32Array;
  private readonly pairBase: number;
  /** byte value -> id of `<0xNN>`, or -1; undefined without byte fallback. */
  private readonly byteIds: Int32Array | undefined;
  private readonly unkId: number | undefined;
  private readonly fuseUnk: boolean;
  private readonly ignoreMerges: boolean;
  private readonly heap = new MinHeap();

  constructor(opts: BpeOptions) {
    this.vocab = opts.vocab;
    let maxId = -1;
    for (const id of opts.vocab.values()) if (id > maxId) maxId = id;
    this.pairBase = maxId + 1;
    const merges = opts.merges;
    this.mergeRank = new Map();
    this.mergeNewId = new Int32Array(merges.length);
    const vocab = this.vocab;
    for (let i = 0; i < merges.length; i++) {
      const [a, b] = merges[i]!;
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const merged = a + b;
      const inew = vocab.get(merged);
      if (ia === undefined || ib === undefined || inew === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : merged;
        throw new TokenizerError(
          `malformed tokenizer.json: merge #${i} (${JSON.stringify(a)} + ${JSON.stringify(b)}) uses ` +
            `${JSON.stringify(missing)}, which is not in model.vocab`,
        );
      }
      this.mergeRank.set(ia * this.pairBase + ib, i);
      this.mergeNewId[i] = inew;
    }
    if (opts.byteFallback) {
      this.byteIds = new Int32Array(256);
      for (let b = 0; b < 256; b++) {
        const tok = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
        this.byteIds[b] = vocab.get(tok) ?? -1;
      }
    }
    if (opts.unkToken != null) {
      const id = vocab.get(opts.unkToken);
      if (id === undefined) {
        throw new TokenizerError(
          `malformed tokenizer.json: model.unk_token ${JSON.stringify(opts.unkToken)} is not in model.vocab`,
        );
      }
      this.unkId = id;
    }
    this.fuseUnk = opts.fuseUnk ?? false;
    this.ignoreMerges = opts.ignoreMerges ?? false;
  }

  get mergeCount(): number {
    return this.mergeNewId.length;
  }

  /** Encode one pre-tokenized word, appending its ids to `out`. */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    const vocab = this.vocab;
    if (this.ignoreMerges) {
      const whole = vocab.get(word);
      if (whole !== undefined) {
        out.push(whole);
        return;
      }
    }
    // 1. Initial symbols: one per character, byte tokens for characters outside the vocabulary, else <unk>.
    const syms: number[] = [];
    const byteIds = this.byteIds;
    const unkId = this.unkId;
    let pendingUnk = false;
    const bytes: number[] = [];
    for (const ch of word) {
      const id = vocab.get(ch);
      if (id !== undefined) {
        if (pendingUnk) {
          syms.push(unkId!);
          pendingUnk = false;
        }
        syms.push(id);
        continue;
      }
      if (byteIds !== undefined) {
        bytes.length = 0;
        utf8Bytes(ch.codePointAt(0)!, bytes);
        let ok = true;
        for (const b of bytes) if (byteIds[b]! < 0) ok = false;
        if (ok) {
          // Like tokenizers, a pending <unk> is not flushed here; it lands after these bytes.
          for (const b of bytes) syms.push(byteIds[b]!);
          continue;
        }
      }
      if (unkId !== undefined) {
        if (pendingUnk && !this.fuseUnk) syms.push(unkId);
        pendingUnk = true;
      }
      // Without an unk token the character is dropped, as tokenizers does.
    }
    if (pendingUnk) syms.push(unkId!);

    const n = syms.length;
    if (n <= 1 || this.mergeNewId.length === 0) {
      for (const s of syms) out.push(s);
      return;
    }

    // 2. Merge with a priority queue over a doubly linked list.
    const ids = Int32Array.from(syms);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const mergeRank = this.mergeRank;
    const mergeNewId = this.mergeNewId;
    const base = this.pairBase;
    const initial: number[] = [];
    for (let i = 0; i + 1 < n; i++) {
      const r = mergeRank.get(ids[i]! * base + ids[i + 1]!);
      if (r !== undefined) initial.push(r * POS_SPAN + i);
    }
    const heap = this.heap;
    heap.reset(initial);
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POS_SPAN);
      const pos = key - rank * POS_SPAN;
      if (ids[pos]! < 0) continue; // removed
      const nx = next[pos]!;
      if (nx < 0) continue; // last symbol
      const newId = mergeNewId[rank]!;
      const cur = mergeRank.get(ids[pos]! * base + ids[nx]!);
      if (cur === undefined || mergeNewId[cur] !== newId) continue; // stale entry
      // Merge pos with nx.
      ids[pos] = newId;
      ids[nx] = -1;
      const nn = next[nx]!;
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      const pv = prev[pos]!;
      if (pv >= 0) {
        const r = mergeRank.get(ids[pv]! * base + newId);
        if (r !== undefined) heap.push(r * POS_SPAN + pv);
      }
      if (nn >= 0) {
        const r = mergeRank.get(newId * base + ids[nn]!);
        if (r !== undefined) heap.push(r * POS_SPAN + pos);
      }
    }
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
  }
}
