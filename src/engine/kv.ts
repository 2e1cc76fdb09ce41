/**
 * The paged KV block pool of one replica, with a prefix cache keyed by block hashes.
 *
 * Accounting is by counts, not block ids: every block is in exactly one of four states —
 * free; private (held by one sequence, not hashed); cached and referenced by ≥ 1 running
 * sequence; cached and idle (unreferenced, evictable, kept in LRU order). So
 * free + private + cachedReferenced + cachedIdle = total, always.
 *
 * Allocation takes free blocks first, then evicts idle cached blocks from the LRU head. A
 * sequence releases its cached blocks tail-first, so the tail of a prefix is evicted before its
 * head (as vLLM does), which keeps cached prefixes mostly prefix-closed.
 *
 * The cache is typed arrays only (no object per block, no garbage): entries are slots of
 * growable arrays (key, references, LRU links), found through an open-addressing hash table with
 * linear probing and backward-shift deletion. There are never more entries than blocks.
 */
const NONE = -1;

export class KvPool {
  free: number;
  privateBlocks = 0;
  cachedReferenced = 0;
  cachedIdle = 0;
  /** Idle cached blocks evicted to make room. */
  evictions = 0;
  /** Set by `lookup`: how many of the hits are idle (would stop being evictable if acquired). */
  lastIdleHits = 0;

  // entries
  private cap = 0;
  private eKey = new Float64Array(0);
  private eRefs = new Int32Array(0);
  private ePrev = new Int32Array(0);
  private eNext = new Int32Array(0);
  private freeIds = new Int32Array(0);
  private freeTop = 0;
  private lruHead = NONE;
  private lruTail = NONE;
  // hash table: slot → entry id
  private slots = new Int32Array(0);
  private mask = -1;
  /** Entry ids found by the last `lookup`, for `acquire`. */
  private hitIds = new Int32Array(64);

  constructor(readonly total: number) {
    this.free = total;
  }

  /** Blocks an allocation can get: free plus evictable. */
  available(): number {
    return this.free + this.cachedIdle;
  }

  /** Blocks in use by running sequences (private + referenced cached). */
  used(): number {
    return this.privateBlocks + this.cachedReferenced;
  }

  /** Allocate n private blocks (caller checked n ≤ available()), evicting idle cached blocks LRU-first. */
  allocate(n: number): void {
    if (n <= 0) return;
    let fromFree = n;
    if (fromFree > this.free) {
      fromFree = this.free;
      let evict = n - fromFree;
      this.evictions += evict;
      while (evict-- > 0) {
        const e = this.lruHead;
        this.unlink(e);
        this.remove(e);
        this.cachedIdle--;
      }
    }
    this.free -= fromFree;
    this.privateBlocks += n;
  }

  freePrivate(n: number): void {
    this.privateBlocks -= n;
    this.free += n;
  }

  /** Number of leading keys present in the cache (at most maxBlocks); sets lastIdleHits. */
  lookup(keys: Float64Array, maxBlocks: number): number {
    const m = Math.min(maxBlocks, keys.length);
    if (this.cachedReferenced + this.cachedIdle === 0 || m <= 0) {
      this.lastIdleHits = 0;
      return 0;
    }
    if (this.hitIds.length < m) this.hitIds = new Int32Array(Math.max(m, 2 * this.hitIds.length));
    let idle = 0;
    let i = 0;
    for (; i < m; i++) {
      const e = this.find(keys[i]!);
      if (e === NONE) break;
      this.hitIds[i] = e;
      if (this.eRefs[e] === 0) idle++;
    }
    this.lastIdleHits = idle;
    return i;
  }

  /**
   * Length of the cached prefix of `keys`, by binary search: O(log n) probes instead of n. Exact
   * when the cached blocks of a prefix chain are prefix-closed, which the cache maintains (blocks
   * are registered in order, acquired and released as whole prefixes, released tail-first, so a
   * block is never more recently used than the one before it and the tail is evicted first); used
   * by routers, while admission counts hits block by block.
   */
  cachedPrefixLength(keys: Float64Array): number {
    if (this.cachedReferenced + this.cachedIdle === 0 || keys.length === 0) return 0;
    if (this.find(keys[0]!) === NONE) return 0;
    // invariant: keys[lo − 1] cached; keys[hi] not cached (hi = length: past the end)
    let lo = 1;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.find(keys[mid]!) !== NONE) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Reference the first `count` entries found by the last `lookup` (nothing changed since); their ids go to `ids`. */
  acquireLookedUp(count: number, ids: Int32Array): void {
    for (let i = 0; i < count; i++) {
      const e = this.hitIds[i]!;
      this.ref(e);
      ids[i] = e;
    }
  }

  /** Drop references to entries ids[0..count), tail first; entries left unreferenced become idle (LRU tail). */
  releaseShared(ids: Int32Array, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      const e = ids[i]!;
      if (--this.eRefs[e]! === 0) {
        this.cachedReferenced--;
        this.cachedIdle++;
        this.append(e);
      }
    }
  }

  /**
   * A sequence finished computing one of its private blocks whose hash is `key`: the block joins
   * the cache (referenced by the sequence). If another sequence cached the same content meanwhile,
   * the sequence references that entry and its own copy is freed. Returns the entry id.
   */
  register(key: number): number {
    this.privateBlocks--;
    const e = this.find(key);
    if (e !== NONE) {
      this.ref(e);
      this.free++;
      return e;
    }
    const id = this.newEntry(key);
    this.eRefs[id] = 1;
    this.cachedReferenced++;
    return id;
  }

  private ref(e: number): void {
    if (this.eRefs[e] === 0) {
      this.unlink(e);
      this.cachedIdle--;
      this.cachedReferenced++;
    }
    this.eRefs[e]!++;
  }

  // ---- LRU (doubly linked through ePrev / eNext) ----

  private append(e: number): void {
    this.ePrev[e] = this.lruTail;
    this.eNext[e] = NONE;
    if (this.lruTail !== NONE) this.eNext[this.lruTail] = e;
    else this.lruHead = e;
    this.lruTail = e;
  }

  private unlink(e: number): void {
    const p = this.ePrev[e]!;
    const n = this.eNext[e]!;
    if (p !== NONE) this.eNext[p] = n;
    else this.lruHead = n;
    if (n !== NONE) this.ePrev[n] = p;
    else this.lruTail = p;
    this.ePrev[e] = NONE;
    this.eNext[e] = NONE;
  }

  // ---- entries and the hash table ----

  /** Keys are well-mixed integers below 2^53: their low 32 bits index the table. */
  private find(key: number): number {
    const mask = this.mask;
    if (mask < 0) return NONE;
    const slots = this.slots;
    let i = (key >>> 0) & mask;
    for (;;) {
      const e = slots[i]!;
      if (e === NONE) return NONE;
      if (this.eKey[e] === key) return e;
      i = (i + 1) & mask;
    }
  }

  private newEntry(key: number): number {
    if (this.freeTop === 0) this.grow();
    const id = this.freeIds[--this.freeTop]!;
    this.eKey[id] = key;
    this.eRefs[id] = 0;
    this.ePrev[id] = NONE;
    this.eNext[id] = NONE;
    this.insertSlot(id);
    return id;
  }

  private insertSlot(id: number): void {
    const mask = this.mask;
    let i = (this.eKey[id]! >>> 0) & mask;
    while (this.slots[i] !== NONE) i = (i + 1) & mask;
    this.slots[i] = id;
  }

  /** Delete entry e from the table (backward-shift deletion) and free its id. */
  private remove(e: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = (this.eKey[e]! >>> 0) & mask;
    while (slots[i] !== e) i = (i + 1) & mask;
    slots[i] = NONE;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const f = slots[j]!;
      if (f === NONE) break;
      const k = (this.eKey[f]! >>> 0) & mask;
      // move f back to i unless its home k lies cyclically in (i, j]
      const inRange = i <= j ? k > i && k <= j : k > i || k <= j;
      if (!inRange) {
        slots[i] = f;
        slots[j] = NONE;
        i = j;
      }
    }
    this.freeIds[this.freeTop++] = e;
  }

  /** Double the entry arrays (up to one entry per block) and rebuild the table at 2× entries. */
  private grow(): void {
    const old = this.cap;
    const cap = Math.min(this.total, Math.max(256, old * 2));
    if (cap <= old) throw new Error('prefix cache: more entries than KV blocks');
    const key = new Float64Array(cap);
    key.set(this.eKey);
    const refs = new Int32Array(cap);
    refs.set(this.eRefs);
    const prev = new Int32Array(cap);
    prev.set(this.ePrev);
    const next = new Int32Array(cap);
    next.set(this.eNext);
    this.eKey = key;
    this.eRefs = refs;
    this.ePrev = prev;
    this.eNext = next;
    const freeIds = new Int32Array(cap);
    freeIds.set(this.freeIds.subarray(0, this.freeTop));
    let top = this.freeTop;
    for (let id = cap - 1; id >= old; id--) freeIds[top++] = id;
    this.freeIds = freeIds;
    this.freeTop = top;
    let size = 1;
    while (size < 2 * cap) size *= 2;
    this.slots = new Int32Array(size).fill(NONE);
    this.mask = size - 1;
    // re-insert live entries (those not on the free list)
    const isFree = new Uint8Array(cap);
    for (let i = 0; i < top; i++) isFree[freeIds[i]!] = 1;
    for (let id = 0; id < old; id++) if (isFree[id] === 0) this.insertSlot(id);
    this.cap = cap;
  }

  /** Throws if the block states do not add up (debug checks). */
  check(where: string): void {
    const sum = this.free + this.privateBlocks + this.cachedReferenced + this.cachedIdle;
    const entries = this.cap - this.freeTop;
    let lru = 0;
    for (let e = this.lruHead; e !== NONE; e = this.eNext[e]!) lru++;
    if (
      sum !== this.total ||
      this.free < 0 ||
      this.privateBlocks < 0 ||
      this.cachedReferenced < 0 ||
      this.cachedIdle < 0 ||
      entries !== this.cachedReferenced + this.cachedIdle ||
      lru !== this.cachedIdle
    )
      throw new Error(
        `KV invariant broken at ${where}: free ${this.free} + private ${this.privateBlocks} + cached ` +
          `${this.cachedReferenced} + idle ${this.cachedIdle} = ${sum} ≠ total ${this.total} (entries ${entries}, LRU ${lru})`,
      );
  }
}
