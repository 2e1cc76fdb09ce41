import type { Seq } from './seq.js';

/**
 * Min-heap of decoding sequences by the group step at which they complete (ties: admission
 * stamp). Entries go stale when a sequence leaves the group early; `tag` tells them apart.
 */
export class CompletionHeap {
  private keys: number[] = [];
  private stamps: number[] = [];
  private tags: number[] = [];
  private items: Seq[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Drop stale entries at the top; the top live key (Infinity when empty). */
  peekKey(): number {
    while (this.items.length > 0) {
      const s = this.items[0]!;
      if (s.inGroup && s.tag === this.tags[0]) return this.keys[0]!;
      this.pop();
    }
    return Infinity;
  }

  /** Pop the top entry (call peekKey first to skip stale ones). */
  pop(): Seq {
    const top = this.items[0]!;
    const n = this.items.length - 1;
    const k = this.keys.pop()!;
    const st = this.stamps.pop()!;
    const tg = this.tags.pop()!;
    const it = this.items.pop()!;
    if (n > 0) this.sift(0, k, st, tg, it, n);
    return top;
  }

  push(key: number, s: Seq): void {
    let i = this.items.length;
    this.keys.push(key);
    this.stamps.push(s.stamp);
    this.tags.push(s.tag);
    this.items.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(key, s.stamp, this.keys[p]!, this.stamps[p]!)) break;
      this.move(p, i);
      i = p;
    }
    this.put(i, key, s.stamp, s.tag, s);
  }

  clear(): void {
    this.keys.length = 0;
    this.stamps.length = 0;
    this.tags.length = 0;
    this.items.length = 0;
  }

  private less(k1: number, s1: number, k2: number, s2: number): boolean {
    return k1 < k2 || (k1 === k2 && s1 < s2);
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from]!;
    this.stamps[to] = this.stamps[from]!;
    this.tags[to] = this.tags[from]!;
    this.items[to] = this.items[from]!;
  }

  private put(i: number, k: number, st: number, tg: number, it: Seq): void {
    this.keys[i] = k;
    this.stamps[i] = st;
    this.tags[i] = tg;
    this.items[i] = it;
  }

  private sift(i: number, k: number, st: number, tg: number, it: Seq, n: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      if (l + 1 < n && this.less(this.keys[l + 1]!, this.stamps[l + 1]!, this.keys[l]!, this.stamps[l]!))
        c = l + 1;
      if (!this.less(this.keys[c]!, this.stamps[c]!, k, st)) break;
      this.move(c, i);
      i = c;
    }
    this.put(i, k, st, tg, it);
  }
}

/**
 * Maximum of a stream of values over any suffix: values v_d are pushed with increasing d; `max(a)`
 * is max{v_d : d > a}. A monotonic stack (values strictly decreasing from bottom to top), so a
 * push is amortized O(1) and a query O(log n).
 */
export class SuffixMax {
  private ds = new Float64Array(64);
  private vs = new Float64Array(64);
  private n = 0;

  push(d: number, v: number): void {
    let n = this.n;
    while (n > 0 && this.vs[n - 1]! <= v) n--;
    if (n === this.ds.length) {
      const ds = new Float64Array(n * 2);
      ds.set(this.ds);
      this.ds = ds;
      const vs = new Float64Array(n * 2);
      vs.set(this.vs);
      this.vs = vs;
    }
    this.ds[n] = d;
    this.vs[n] = v;
    this.n = n + 1;
  }

  /** max of the values pushed with d > a (-Infinity if none). */
  max(a: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ds[mid]! > a) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.n ? this.vs[lo]! : -Infinity;
  }

  clear(): void {
    this.n = 0;
  }
}

/**
 * A list of sequences with its own length: emptying or shortening it keeps the backing store
 * (cutting a JS array's length makes V8 reallocate it on the next push, once per step here).
 */
export class SeqList {
  private items: (Seq | undefined)[] = [];
  length = 0;

  at(i: number): Seq {
    return this.items[i]!;
  }

  push(s: Seq): void {
    if (this.length < this.items.length) this.items[this.length] = s;
    else this.items.push(s);
    this.length++;
  }

  set(i: number, s: Seq): void {
    this.items[i] = s;
  }

  /** Keep the first n entries. */
  truncate(n: number): void {
    for (let i = n; i < this.length; i++) this.items[i] = undefined;
    this.length = n;
  }

  removeAt(i: number): void {
    for (let j = i + 1; j < this.length; j++) this.items[j - 1] = this.items[j];
    this.items[--this.length] = undefined;
  }

  indexOf(s: Seq): number {
    for (let i = 0; i < this.length; i++) if (this.items[i] === s) return i;
    return -1;
  }

  last(): Seq {
    return this.items[this.length - 1]!;
  }

  toArray(from = 0): Seq[] {
    return this.items.slice(from, this.length) as Seq[];
  }
}
