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
  /** `model.merges` in rank order (index = rank): `"a b"` strings or `["a", "b"]` pairs. */
  merges: readonly unknown[];
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

/**
 * Open-addressing hash table (linear probing) from a pair of ids to a merge rank. Much faster to build and smaller
 * than a Map keyed by numbers for the half a million merges of the Gemma vocabulary.
 */
class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Int32Array;
  private readonly mask: number;

  constructor(entries: number) {
    let cap = 16;
    while (cap < entries * 2) cap *= 2;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.value = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private static hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 13);
  }

  /** Insert or overwrite. */
  set(a: number, b: number, v: number): void {
    const left = this.left;
    let i = PairTable.hash(a, b) & this.mask;
    for (;;) {
      const l = left[i]!;
      if (l === -1) {
        left[i] = a;
        this.right[i] = b;
        this.value[i] = v;
        return;
      }
      if (l === a && this.right[i] === b) {
        this.value[i] = v;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The value for (a, b), or -1. */
  get(a: number, b: number): number {
    const left = this.left;
    let i = PairTable.hash(a, b) & this.mask;
    for (;;) {
      const l = left[i]!;
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return this.value[i]!;
      i = (i + 1) & this.mask;
    }
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
  /** (left id, right id) -> merge rank; a later duplicate of a pair wins, as in tokenizers. */
  private readonly mergeRank: PairTable;
  /** rank -> id of the merged token. */
  private readonly mergeNewId: Int32Array;
  /** byte value -> id of `<0xNN>`, or -1; undefined without byte fallback. */
  private readonly byteIds: Int32Array | undefined;
  private readonly unkId: number | undefined;
  private readonly fuseUnk: boolean;
  private readonly ignoreMerges: boolean;
  private readonly heap = new MinHeap();

  constructor(opts: BpeOptions) {
    this.vocab = opts.vocab;
    const merges = opts.merges;
    this.mergeRank = new PairTable(merges.length);
    this.mergeNewId = new Int32Array(merges.length);
    const vocab = this.vocab;
    for (let i = 0; i < merges.length; i++) {
      const m = merges[i];
      let a: string;
      let b: string;
      if (typeof m === "string") {
        // Legacy "a b" form: split at the first space.
        const sp = m.indexOf(" ");
        if (sp < 0) throw new TokenizerError(`malformed tokenizer.json: merge #${i} ${JSON.stringify(m)} is not "a b"`);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") {
        a = m[0];
        b = m[1];
      } else {
        throw new TokenizerError(`malformed tokenizer.json: merge #${i} is neither "a b" nor ["a", "b"]`);
      }
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
      this.mergeRank.set(ia, ib, i);
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
    const initial: number[] = [];
    for (let i = 0; i + 1 < n; i++) {
      const r = mergeRank.get(ids[i]!, ids[i + 1]!);
      if (r >= 0) initial.push(r * POS_SPAN + i);
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
      const cur = mergeRank.get(ids[pos]!, ids[nx]!);
      if (cur < 0 || mergeNewId[cur] !== newId) continue; // stale entry
      // Merge pos with nx.
      ids[pos] = newId;
      ids[nx] = -1;
      const nn = next[nx]!;
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      const pv = prev[pos]!;
      if (pv >= 0) {
        const r = mergeRank.get(ids[pv]!, newId);
        if (r >= 0) heap.push(r * POS_SPAN + pv);
      }
      if (nn >= 0) {
        const r = mergeRank.get(newId, ids[nn]!);
        if (r >= 0) heap.push(r * POS_SPAN + pos);
      }
    }
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
  }
}
