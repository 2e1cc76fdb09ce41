/**
 * An indexed binary min-heap over a fixed set of integer ids (the replicas), keyed by a time with
 * ties broken by id. Each id is in the heap at most once; `set` inserts, moves or (with Infinity)
 * removes it. Typed arrays only: no allocation after construction.
 */
export class IndexedMinHeap {
  private readonly keys: Float64Array;
  private readonly heap: Int32Array;
  /** Position of each id in `heap`, -1 when absent. */
  private readonly pos: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(capacity).fill(Infinity);
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.n;
  }

  /** The id with the smallest key (-1 when empty). */
  peekId(): number {
    return this.n === 0 ? -1 : this.heap[0]!;
  }

  peekKey(): number {
    return this.n === 0 ? Infinity : this.keys[this.heap[0]!]!;
  }

  key(id: number): number {
    return this.keys[id]!;
  }

  /** Set id's key; Infinity (or NaN) removes it. */
  set(id: number, key: number): void {
    const p = this.pos[id]!;
    if (!(key < Infinity)) {
      if (p >= 0) this.removeAt(p);
      this.keys[id] = Infinity;
      return;
    }
    const old = this.keys[id]!;
    this.keys[id] = key;
    if (p < 0) {
      const i = this.n++;
      this.heap[i] = id;
      this.pos[id] = i;
      this.up(i);
    } else if (key < old) this.up(p);
    else if (key > old) this.down(p);
  }

  private less(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && a < b);
  }

  private removeAt(p: number): void {
    const id = this.heap[p]!;
    const last = this.heap[--this.n]!;
    this.pos[id] = -1;
    if (p === this.n) return;
    this.heap[p] = last;
    this.pos[last] = p;
    this.up(p);
    this.down(this.pos[last]);
  }

  private up(i: number): void {
    const h = this.heap;
    const id = h[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pid = h[parent]!;
      if (!this.less(id, pid)) break;
      h[i] = pid;
      this.pos[pid] = i;
      i = parent;
    }
    h[i] = id;
    this.pos[id] = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const id = h[i]!;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      if (r < n && this.less(h[r]!, h[l]!)) c = r;
      const cid = h[c]!;
      if (!this.less(cid, id)) break;
      h[i] = cid;
      this.pos[cid] = i;
      i = c;
    }
    h[i] = id;
    this.pos[id] = i;
  }
}

/** A growable ring-buffer deque. */
export class Deque<T> {
  private buf: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private len = 0;

  get length(): number {
    return this.len;
  }

  peekFront(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  at(i: number): T | undefined {
    return i < this.len ? this.buf[(this.head + i) & (this.buf.length - 1)] : undefined;
  }

  pushBack(x: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = x;
    this.len++;
  }

  pushFront(x: T): void {
    if (this.len === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = x;
    this.len++;
  }

  popFront(): T | undefined {
    if (this.len === 0) return undefined;
    const x = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.len--;
    return x;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.buf.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) & (this.buf.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}
