/**
 * Added tokens (`tokenizer.json` `added_tokens`): matched verbatim in the text before the model runs, leftmost match
 * first and, among matches starting at the same place, the longest (tokenizers' Aho-Corasick `LeftmostLongest`).
 */

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** A piece of text to tokenize with the model, or an added token already resolved to its id. */
export type Segment = { text: string; id?: undefined } | { id: number; text?: undefined };

interface TrieNode {
  next: Map<number, TrieNode>;
  /** The added token ending here, if any. */
  token: AddedToken | undefined;
}

const WHITESPACE = /\s/u;
const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;

function charBefore(text: string, i: number): string {
  if (i <= 0) return "";
  const c = text.charCodeAt(i - 1);
  if (c >= 0xdc00 && c <= 0xdfff && i >= 2) {
    const h = text.charCodeAt(i - 2);
    if (h >= 0xd800 && h <= 0xdbff) return text.slice(i - 2, i);
  }
  return text[i - 1]!;
}

function charAt(text: string, i: number): string {
  if (i >= text.length) return "";
  const cp = text.codePointAt(i)!;
  return String.fromCodePoint(cp);
}

export class AddedTokenMatcher {
  private readonly root: TrieNode = { next: new Map(), token: undefined };
  private count = 0;

  constructor(tokens: Iterable<AddedToken>) {
    for (const t of tokens) {
      if (t.content.length === 0) continue;
      let node = this.root;
      for (let i = 0; i < t.content.length; i++) {
        const c = t.content.charCodeAt(i);
        let child = node.next.get(c);
        if (child === undefined) {
          child = { next: new Map(), token: undefined };
          node.next.set(c, child);
        }
        node = child;
      }
      // The first token with a given content wins (tokenizers keeps the first one too).
      if (node.token === undefined) {
        node.token = t;
        this.count++;
      }
    }
  }

  get size(): number {
    return this.count;
  }

  /** Longest token starting at `start`, with its end, or undefined. */
  private longestAt(text: string, start: number): { token: AddedToken; end: number } | undefined {
    let node: TrieNode | undefined = this.root;
    let best: AddedToken | undefined;
    let bestEnd = 0;
    for (let i = start; i < text.length; i++) {
      node = node.next.get(text.charCodeAt(i));
      if (node === undefined) break;
      if (node.token !== undefined) {
        best = node.token;
        bestEnd = i + 1;
      }
    }
    return best === undefined ? undefined : { token: best, end: bestEnd };
  }

  /** Split `text` into plain-text segments and added tokens. Empty text segments are dropped. */
  split(text: string): Segment[] {
    const out: Segment[] = [];
    if (this.count === 0 || text.length === 0) {
      if (text.length > 0) out.push({ text });
      return out;
    }
    const rootNext = this.root.next;
    let segStart = 0; // start of the pending plain text
    let i = 0;
    while (i < text.length) {
      if (!rootNext.has(text.charCodeAt(i))) {
        i++;
        continue;
      }
      const m = this.longestAt(text, i);
      if (m === undefined) {
        i++;
        continue;
      }
      const tok = m.token;
      let start = i;
      let end = m.end;
      if (tok.singleWord) {
        const before = charBefore(text, start);
        const after = charAt(text, end);
        if ((before !== "" && WORD_CHAR.test(before)) || (after !== "" && WORD_CHAR.test(after))) {
          i++;
          continue;
        }
      }
      if (tok.lstrip) {
        while (start > segStart) {
          const c = charBefore(text, start);
          if (!WHITESPACE.test(c)) break;
          start -= c.length;
        }
      }
      if (tok.rstrip) {
        while (end < text.length) {
          const c = charAt(text, end);
          if (!WHITESPACE.test(c)) break;
          end += c.length;
        }
      }
      if (start > segStart) out.push({ text: text.slice(segStart, start) });
      out.push({ id: tok.id });
      segStart = end;
      i = end;
    }
    if (segStart < text.length) out.push({ text: text.slice(segStart) });
    return out;
  }
}
