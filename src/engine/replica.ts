import { ReplicaUsage } from '../metrics/usage.js';
import { causalPairs, emptyStep, type ReplicaPerf, type StepBatch } from '../perf/types.js';
import { CompletionHeap, SeqList, SuffixMax } from './group.js';
import { Deque } from './heap.js';
import { KvPool } from './kv.js';
import { GONE, RUNNING, WAITING, type Seq } from './seq.js';
import type {
  BatchPolicy,
  EngineConfig,
  PreemptionPolicy,
  ReplicaView,
  SeqView,
  StepFormation,
} from './types.js';

/** What the replica tells the cluster. Called from inside a step end; must not re-enter the replica. */
export interface ReplicaHooks {
  /** An attempt emitted its last token (or finished its prefill, for 0 output tokens) at t. */
  onCompleted(seq: Seq, t: number): void;
  /** An attempt whose outcome was already decided (timed out while running) left the replica. */
  onReleased(seq: Seq): void;
}

/** State of one replica at a step end, for invariant checks. */
export interface BoundaryInfo {
  replica: number;
  timeS: number;
  kvTotal: number;
  kvFree: number;
  kvPrivate: number;
  kvCachedReferenced: number;
  kvCachedIdle: number;
  running: number;
  waiting: number;
  /** Steps this boundary closed (> 1 after a jump). */
  steps: number;
}

/**
 * One serving replica: a waiting queue, the running sequences, a paged KV pool with a prefix
 * cache, and its steps, each timed by `perf.stepTimeS`.
 *
 * **Decode group.** Running sequences past their prefill move together: each step decodes one
 * token for every one of them (decode first; the token budget is ≥ max_num_seqs, as vLLM
 * requires). They are kept as a group advanced lazily: a counter D of group steps, and per
 * sequence its KV tokens and tokens generated *minus D* at joining, so a group step costs O(1)
 * whatever the batch size. The group keeps Σ context (for the step's StepBatch), counts of
 * members by (context mod block size) (for the blocks the next step allocates), a heap of the
 * group step at which each member completes, and the gaps between group steps in a suffix-max
 * stack (for each member's largest inter-token gap). A member's own fields are brought up to date
 * when it leaves (completes, is preempted or times out). Sequences part-way through a (chunked)
 * prefill are handled one by one.
 *
 * **Jumps.** When a step is pure decode (no prefill running or admitted) and the batch policy is
 * stable under decode, the replica computes the run of identical decode steps ahead — up to the
 * next completion, the next KV block shortfall, or maxJumpSteps — calling stepTimeS once per step
 * (Σ context grows by the member count per step) with no event, no allocation and no per-sequence
 * work; the run is applied at its end. An arrival routed here or a timeout cuts it at the end of
 * the step in progress. Times accumulate with the same floating-point operations as
 * step-by-step simulation (`stepJumping: false`), so per-request results are identical.
 */
export class Replica implements ReplicaView, StepFormation {
  readonly kv: KvPool;
  readonly usage: ReplicaUsage;
  readonly blockSize: number;
  readonly watermarkBlocks: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;

  private readonly waiting = new Deque<Seq>();
  private waitingLive = 0;
  /** Running sequences part-way through their prefill, in admission order. */
  private readonly prefilling = new SeqList();
  /** Running sequences in admission order, with stale entries (skipped; compacted now and then). */
  private readonly order = new SeqList();
  private readonly orderStamps: number[] = [];
  private stampCounter = 0;
  /** Running sequences timed out, removed at the next step end. */
  private readonly ended = new SeqList();
  private abortedPending = 0;

  // the decode group
  private D = 0;
  /** End of the latest group step. */
  private groupT = 0;
  private members = 0;
  /** Σ over members of (kvTokens − D at joining). */
  private groupKvSum = 0;
  /** Members by groupKv mod blockSize. */
  private readonly residue: Int32Array;
  private readonly doneHeap = new CompletionHeap();
  private readonly gaps = new SuffixMax();
  private readonly fresh = new SeqList();

  // Attempt counters (conservation: arrived = completed + rejected + failed + timedOut + waiting + running).
  arrived = 0;
  completed = 0;
  rejected = 0;
  failed = 0;
  timedOut = 0;
  /** Output tokens emitted; prompt tokens prefilled (recompute included). */
  emittedTokens = 0;
  prefillTokens = 0;
  prefixLookups = 0;
  prefixQueriedTokens = 0;
  prefixHitTokens = 0;

  /** A step (or a run of steps) is in progress. */
  busy = false;
  /** When this replica next needs the loop: end of its step or run, a wake-up, or Infinity when idle. */
  nextS = Infinity;

  private now = 0;
  private readonly step: StepBatch = emptyStep();
  private readonly part: StepBatch = emptyStep();
  private groupScheduled = false;
  private planStartS = 0;
  private planLen = 0;
  /** Steps of the run whose KV blocks are allocated (1 when formed; more when a router syncs). */
  private planAlloc = 0;
  /** The step is pure decode (a run of planLen steps). */
  private planDecode = false;
  /** planEnd[s]: end time of step s (planEnd[0] = start). */
  private planEnd = new Float64Array(64);
  /** planNew[s]: blocks allocated at the starts of steps 2…s. */
  private planNew = new Float64Array(64);
  private planUsed1 = 0;
  private singlePrefillS = 0;

  constructor(
    readonly index: number,
    readonly perf: ReplicaPerf,
    private readonly config: EngineConfig,
    private readonly policy: BatchPolicy,
    private readonly preemption: PreemptionPolicy,
    private readonly hooks: ReplicaHooks,
    private readonly onBoundaryInfo: ((info: BoundaryInfo) => void) | undefined,
    /** The cluster's outstanding-requests array; this replica keeps loads[index] current. */
    private readonly loads: Int32Array,
  ) {
    this.blockSize = config.blockSize;
    const blocks =
      perf.kv.blockSize === config.blockSize ? perf.kv.blocks : Math.floor(perf.kv.tokens / config.blockSize);
    if (!(blocks >= 1))
      throw new Error(`replica ${index} (${perf.label}): no KV blocks (capacity ${perf.kv.tokens} tokens)`);
    this.kv = new KvPool(blocks);
    this.watermarkBlocks = Math.floor(config.watermark * blocks);
    this.maxNumSeqs = config.maxNumSeqs;
    this.maxNumBatchedTokens = config.maxNumBatchedTokens;
    this.usage = new ReplicaUsage(index, perf.label, blocks, config.blockSize, config.timelineBucketS);
    this.residue = new Int32Array(config.blockSize);
  }

  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  private mod(x: number): number {
    const r = x % this.blockSize;
    return r < 0 ? r + this.blockSize : r;
  }

  /** Whether an attempt could ever run here: its whole context fits in the pool less the watermark. */
  fits(promptTokens: number, outputTokens: number): boolean {
    return this.blocksFor(promptTokens + Math.max(outputTokens, 1)) + this.watermarkBlocks <= this.kv.total;
  }

  // ---- ReplicaView ----
  outstanding(): number {
    return this.waitingLive + this.members + this.prefilling.length - this.abortedPending;
  }
  waitingCount(): number {
    return this.waitingLive;
  }
  runningCount(): number {
    return this.members + this.prefilling.length;
  }
  liveRunning(): number {
    return this.members + this.prefilling.length - this.abortedPending;
  }
  kvUsedBlocks(): number {
    return this.kv.used();
  }
  kvTotalBlocks(): number {
    return this.kv.total;
  }
  cachedPrefixBlocks(keys: Float64Array): number {
    return this.kv.cachedPrefixLength(keys);
  }

  // ---- events from the cluster ----

  /**
   * An admitted attempt joins the waiting queue at t. `afterStepEnds`: the arrival comes after
   * this replica's step ends at exactly t (it was caused by an event that step-by-step simulation
   * processes after them), so it joins the step after those.
   */
  enqueue(seq: Seq, t: number, afterStepEnds: boolean): void {
    seq.state = WAITING;
    seq.replica = this.index;
    this.waiting.pushBack(seq);
    this.waitingLive++;
    this.loads[this.index]!++;
    if (!this.busy) {
      if (t < this.nextS) this.nextS = t;
    } else this.cut(t, afterStepEnds);
  }

  /** The client gave up on `seq` at t. */
  timeout(seq: Seq, t: number): void {
    if (seq.state === WAITING) {
      seq.state = GONE;
      this.waitingLive--;
    } else if (seq.state === RUNNING) {
      seq.ended = true;
      this.abortedPending++;
      this.ended.push(seq);
    } else return;
    this.timedOut++;
    this.loads[this.index]!--;
    this.cut(t, true);
  }

  /**
   * End the run at the first step end at or after t (strict: after t), the step end at which
   * step-by-step simulation would first see the change. Events at one time are ordered arrivals <
   * step ends (by replica index) < timeouts, so an arrival at a step end joins the next step, and a
   * timeout at a step end takes effect at the one after; an arrival that a step end at t itself
   * caused (a closed-loop turn with no gap) comes after the step ends at t of lower-index replicas.
   */
  private cut(t: number, strict: boolean): void {
    if (!this.busy || this.planLen <= 1) return;
    const end = this.planEnd;
    let lo = Math.max(1, this.planAlloc);
    let hi = this.planLen;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? end[mid]! > t : end[mid]! >= t) hi = mid;
      else lo = mid + 1;
    }
    this.planLen = lo;
    this.nextS = end[lo]!;
  }

  /**
   * Bring KV use up to time t inside a run of decode steps (the blocks of every step started
   * before t, or at t too when `afterStepEnds`), so a router sees what step-by-step simulation
   * would show.
   */
  sync(t: number, afterStepEnds: boolean): void {
    if (!this.busy || !this.planDecode || this.planAlloc >= this.planLen) return;
    const end = this.planEnd;
    let lo = 0;
    let hi = this.planLen;
    // the last s ≥ 1 with end[s] < t (≤ t) — steps 1…s done, step s+1 started — or 0
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (afterStepEnds ? end[mid]! <= t : end[mid]! < t) lo = mid;
      else hi = mid - 1;
    }
    this.allocateThrough(Math.min(this.planLen, lo + 1));
  }

  private allocateThrough(a: number): void {
    if (a <= this.planAlloc) return;
    const n = this.planNew[a]! - this.planNew[this.planAlloc]!;
    if (n > this.kv.available()) throw new Error(`replica ${this.index}: run allocation exceeds the KV pool`);
    this.kv.allocate(n);
    this.planAlloc = a;
  }

  /** The loop reached nextS: close the step or run in progress (if any) and form the next step. */
  boundary(t: number): void {
    if (!this.busy) {
      this.formStep(t);
      return;
    }
    const steps = this.planLen;
    const u = this.usage;
    const st = this.step;
    if (this.planDecode) {
      this.allocateThrough(steps);
      this.applyGroup(steps);
      const m = st.decodeSeqs;
      u.steps += steps;
      u.decodeTokens += m * steps;
      u.batchSize.add(m, steps);
      for (let s = 1; s <= steps; s++) u.kvOccupancy.add(this.permille(this.planUsed1 + this.planNew[s]!), 1);
      u.addBusy(this.planStartS, this.planEnd[steps]! - this.planStartS, 0);
    } else {
      if (this.groupScheduled) this.applyGroup(1);
      this.applyPrefills(t);
      u.steps++;
      u.prefillTokens += st.prefillTokens;
      u.decodeTokens += st.decodeSeqs;
      this.prefillTokens += st.prefillTokens;
      u.batchSize.add(st.prefillSeqs + st.decodeSeqs, 1);
      u.kvOccupancy.add(this.permille(this.planUsed1), 1);
      u.addBusy(this.planStartS, this.planEnd[1]! - this.planStartS, this.singlePrefillS);
    }
    this.busy = false;
    this.settle(t);
    this.formStep(t);
    if (this.onBoundaryInfo !== undefined) this.reportBoundary(t, steps);
  }

  private reportBoundary(t: number, steps: number): void {
    const kv = this.kv;
    this.onBoundaryInfo!({
      replica: this.index,
      timeS: t,
      kvTotal: kv.total,
      kvFree: kv.free,
      kvPrivate: kv.privateBlocks,
      kvCachedReferenced: kv.cachedReferenced,
      kvCachedIdle: kv.cachedIdle,
      running: this.runningCount(),
      waiting: this.waitingLive,
      steps,
    });
  }

  // ---- the decode group ----

  /** A sequence that just finished its prefill (and is not done) starts decoding with the group. */
  private join(s: Seq): void {
    s.inGroup = true;
    s.fresh = true;
    s.groupKv = s.kvTokens - this.D;
    s.groupGen = s.generated - this.D;
    s.joinD = this.D;
    s.tag++;
    s.doneD = s.outputTokens - s.groupGen;
    this.members++;
    this.groupKvSum += s.groupKv;
    this.residue[this.mod(s.groupKv)]!++;
    this.doneHeap.push(s.doneD, s);
    this.fresh.push(s);
  }

  /** Bring a member's own fields up to date and take it out of the group. */
  private leave(s: Seq): void {
    const D = this.D;
    s.kvTokens = s.groupKv + D;
    s.generated = s.groupGen + D;
    s.blocksHeld = this.blocksFor(s.kvTokens);
    if (!s.fresh) {
      const gap = this.gaps.max(s.joinD);
      if (!(gap <= s.maxItlS)) s.maxItlS = gap;
      s.lastTokenS = this.groupT;
    }
    s.inGroup = false;
    s.fresh = false;
    this.members--;
    this.groupKvSum -= s.groupKv;
    this.residue[this.mod(s.groupKv)]!--;
    if (this.members === 0) {
      this.gaps.clear();
      this.doneHeap.clear();
      this.fresh.truncate(0);
    }
  }

  /** k group steps ended (planEnd[1…k]). */
  private applyGroup(k: number): void {
    const end = this.planEnd;
    const D0 = this.D;
    this.gaps.push(D0 + 1, end[1]! - this.groupT);
    for (let s = 2; s <= k; s++) this.gaps.push(D0 + s, end[s]! - end[s - 1]!);
    const fresh = this.fresh;
    for (let i = 0; i < fresh.length; i++) {
      const f = fresh.at(i);
      if (!f.inGroup || !f.fresh) continue;
      const gap = end[1]! - f.lastTokenS;
      if (!(gap <= f.maxItlS)) f.maxItlS = gap;
      f.fresh = false;
      f.joinD = D0 + 1;
    }
    if (fresh.length > 0) fresh.truncate(0);
    this.D = D0 + k;
    this.groupT = end[k]!;
    this.emittedTokens += this.members * k;
  }

  // ---- closing steps ----

  private emit(s: Seq, t: number): void {
    if (s.generated === 0) s.firstTokenS = t;
    else {
      const itl = t - s.lastTokenS;
      if (!(itl <= s.maxItlS)) s.maxItlS = itl;
    }
    s.lastTokenS = t;
    s.generated++;
    this.emittedTokens++;
  }

  private applyPrefills(t: number): void {
    const list = this.prefilling;
    for (let i = 0; i < list.length; i++) {
      const s = list.at(i);
      const tokens = s.scheduledTokens;
      if (tokens === 0) continue;
      s.scheduledTokens = 0;
      s.kvTokens += tokens;
      if (s.req.keys !== null) this.registerBlocks(s);
      if (s.kvTokens >= s.prefillTarget) {
        if (s.generated < s.outputTokens) this.emit(s, t);
        else if (s.generated === 0) s.firstTokenS = t; // 0 output tokens: done when the prompt is
      }
    }
  }

  /** After a step: remove timed-out sequences, complete finished ones, move finished prefills to the group. */
  private settle(t: number): void {
    const ended = this.ended;
    if (ended.length > 0) {
      for (let i = 0; i < ended.length; i++) {
        const s = ended.at(i);
        if (s.inGroup) this.leave(s);
        this.release(s);
        s.state = GONE;
        this.abortedPending--;
        this.hooks.onReleased(s);
      }
      ended.truncate(0);
    }
    for (;;) {
      const k = this.doneHeap.peekKey();
      if (k > this.D) break;
      if (k < this.D)
        throw new Error(`replica ${this.index}: a sequence overran its output (group step ${k} < ${this.D})`);
      this.complete(this.doneHeap.pop(), t);
    }
    const list = this.prefilling;
    let w = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list.at(i);
      if (s.state !== RUNNING) continue;
      if (s.kvTokens >= s.prefillTarget) {
        if (s.generated >= s.outputTokens) this.complete(s, t);
        else this.join(s);
        continue;
      }
      list.set(w++, s);
    }
    if (w !== list.length) list.truncate(w);
    this.loads[this.index] = this.outstanding();
    if (this.order.length > 2 * this.runningCount() + 64) this.compactOrder();
  }

  private complete(s: Seq, t: number): void {
    if (s.inGroup) this.leave(s);
    if (s.req.keys !== null) this.registerBlocks(s);
    this.release(s);
    s.state = GONE;
    s.endS = t;
    this.completed++;
    this.hooks.onCompleted(s, t);
  }

  private permille(used: number): number {
    return Math.round((1000 * used) / this.kv.total);
  }

  /** Register a sequence's computed full blocks that have keys, in order, in the prefix cache. */
  private registerBlocks(s: Seq): void {
    const keys = s.req.keys!;
    const limit = Math.min(keys.length, Math.floor(s.kvTokens / this.blockSize));
    if (s.sharedBlocks >= limit) return;
    const ids = this.idsFor(s, limit);
    while (s.sharedBlocks < limit) {
      ids[s.sharedBlocks] = this.kv.register(keys[s.sharedBlocks]!);
      s.sharedBlocks++;
    }
  }

  /** The sequence's entry-id array, grown to hold at least n ids. */
  private idsFor(s: Seq, n: number): Int32Array {
    let ids = s.sharedIds;
    if (ids === null || ids.length < n) {
      const grown = new Int32Array(Math.min(s.req.keys!.length, Math.max(n, 2 * (ids?.length ?? 0), 16)));
      if (ids !== null) grown.set(ids);
      s.sharedIds = ids = grown;
    }
    return ids;
  }

  private release(s: Seq): void {
    if (s.sharedBlocks > 0) this.kv.releaseShared(s.sharedIds!, s.sharedBlocks);
    this.kv.freePrivate(s.blocksHeld - s.sharedBlocks);
    s.blocksHeld = 0;
    s.sharedBlocks = 0;
  }

  // ---- forming steps ----

  private formStep(t: number): void {
    this.now = t;
    const st = this.step;
    st.decodeSeqs = 0;
    st.decodeContextTokens = 0;
    st.prefillSeqs = 0;
    st.prefillTokens = 0;
    st.prefillContextTokens = 0;
    st.prefillAttnPairs = 0;
    this.groupScheduled = false;
    this.policy.formStep(this);
    if (st.decodeSeqs + st.prefillSeqs === 0) {
      this.busy = false;
      this.nextS = Infinity;
      return;
    }
    const d = this.stepTime(st);
    this.planStartS = t;
    this.planEnd[0] = t;
    this.planEnd[1] = t + d;
    this.planNew[1] = 0;
    this.planLen = 1;
    this.planAlloc = 1;
    this.planUsed1 = this.kv.used();
    this.planDecode = this.groupScheduled && st.prefillSeqs === 0 && this.prefilling.length === 0;
    if (this.planDecode) {
      this.singlePrefillS = 0;
      if (this.config.stepJumping && this.policy.stableUnderDecode) this.extendPlan();
    } else {
      this.singlePrefillS = this.prefillShare(d);
    }
    this.busy = true;
    this.nextS = this.planEnd[this.planLen]!;
  }

  private stepTime(st: StepBatch): number {
    const d = this.perf.stepTimeS(st);
    if (!(d >= 0) || d === Infinity)
      throw new Error(`replica ${this.index} (${this.perf.label}): step time ${d} for ${JSON.stringify(st)}`);
    return d;
  }

  /**
   * Prefill's share of a mixed step's time d: d × T(prefill part alone) / (T(prefill alone) +
   * T(decode alone)) — the performance model's own split (each part timed as if it ran alone, the
   * shared fixed cost split in that proportion). Token share when the model gives 0 for both.
   */
  private prefillShare(d: number): number {
    const st = this.step;
    if (st.decodeSeqs === 0) return d;
    if (st.prefillSeqs === 0) return 0;
    const p = this.part;
    p.decodeSeqs = 0;
    p.decodeContextTokens = 0;
    p.prefillSeqs = st.prefillSeqs;
    p.prefillTokens = st.prefillTokens;
    p.prefillContextTokens = st.prefillContextTokens;
    p.prefillAttnPairs = st.prefillAttnPairs;
    const tp = this.perf.stepTimeS(p);
    p.prefillSeqs = 0;
    p.prefillTokens = 0;
    p.prefillContextTokens = 0;
    p.prefillAttnPairs = 0;
    p.decodeSeqs = st.decodeSeqs;
    p.decodeContextTokens = st.decodeContextTokens;
    const td = this.perf.stepTimeS(p);
    if (tp + td > 0) return (d * tp) / (tp + td);
    return (d * st.prefillTokens) / (st.prefillTokens + st.decodeSeqs);
  }

  /** Extend a pure-decode step into a run of identical decode steps (see the class comment). */
  private extendPlan(): void {
    const kmax = Math.min(this.config.maxJumpSteps, this.doneHeap.peekKey() - this.D);
    if (kmax <= 1) return;
    if (this.planEnd.length <= kmax) {
      let size = this.planEnd.length;
      while (size <= kmax) size *= 2;
      const e = new Float64Array(size);
      e.set(this.planEnd);
      this.planEnd = e;
      const n = new Float64Array(size);
      n.set(this.planNew);
      this.planNew = n;
    }
    const bs = this.blockSize;
    const cnt = this.residue;
    const m = this.members;
    const avail = this.kv.available();
    const st = this.step;
    const end = this.planEnd;
    const fresh = this.planNew;
    let need = 0;
    // At the start of step s, D = D0 + s − 1 and the members with (groupKv + D) % bs == 0 need a
    // block: residue class (−D) mod bs, which walks down by one per step.
    let r = this.mod(-(this.D + 1));
    let t = end[1]!;
    let s = 2;
    for (; s <= kmax; s++) {
      need += cnt[r]!;
      r = r === 0 ? bs - 1 : r - 1;
      if (need > avail) break;
      st.decodeContextTokens += m;
      t += this.stepTime(st);
      end[s] = t;
      fresh[s] = need;
    }
    this.planLen = s - 1;
  }

  // ---- StepFormation (the batch policy calls these inside formStep) ----

  hasWaiting(): boolean {
    return this.waitingLive > 0;
  }

  prefillingCount(): number {
    return this.prefilling.length;
  }

  prefillRemaining(i: number): number {
    const s = this.prefilling.at(i);
    return s.prefillTarget - s.kvTokens;
  }

  scheduleDecodes(): number {
    if (this.members === 0) return 0;
    let need = this.residue[this.mod(-this.D)]!;
    while (need > this.kv.available()) {
      this.preempt(this.victimAmongRunning());
      if (this.members === 0) return 0;
      need = this.residue[this.mod(-this.D)]!;
    }
    this.kv.allocate(need);
    const st = this.step;
    st.decodeSeqs = this.members;
    st.decodeContextTokens = this.groupKvSum + this.members * this.D;
    this.groupScheduled = true;
    return this.members;
  }

  schedulePrefill(i: number, tokens: number): boolean {
    const s = this.prefilling.at(i);
    const need = Math.max(0, this.blocksFor(s.kvTokens + tokens) - s.blocksHeld);
    while (need > this.kv.available()) {
      const list = this.prefilling;
      let v = list.length - 1;
      if (!this.preemption.picksNewest) v = i + this.checkedPick(list.toArray(i).map((x) => this.view(x)));
      const victim = list.at(v);
      this.preempt(victim);
      if (victim === s) return false;
    }
    this.kv.allocate(need);
    s.blocksHeld += need;
    this.addPrefill(s, tokens);
    return true;
  }

  private checkedPick(candidates: SeqView[]): number {
    const v = this.preemption.pickVictim(candidates);
    if (!(Number.isInteger(v) && v >= 0 && v < candidates.length))
      throw new Error(
        `preemption policy ${this.preemption.name} picked ${v} of ${candidates.length} candidates`,
      );
    return v;
  }

  /** A running sequence as policies see it (members' fields computed from the group). */
  private view(s: Seq): SeqView {
    if (!s.inGroup) return s;
    return {
      promptTokens: s.promptTokens,
      outputTokens: s.outputTokens,
      generated: s.groupGen + this.D,
      kvTokens: s.groupKv + this.D,
      prefillTarget: s.prefillTarget,
      arrivalS: s.arrivalS,
    };
  }

  private isLive(i: number): boolean {
    const s = this.order.at(i);
    return s.state === RUNNING && s.stamp === this.orderStamps[i];
  }

  private victimAmongRunning(): Seq {
    if (this.preemption.picksNewest) {
      while (!this.isLive(this.order.length - 1)) this.order.truncate(this.order.length - 1);
      return this.order.last();
    }
    this.compactOrder();
    return this.order.at(this.checkedPick(this.order.toArray().map((x) => this.view(x))));
  }

  private compactOrder(): void {
    let w = 0;
    for (let i = 0; i < this.order.length; i++) {
      if (!this.isLive(i)) continue;
      this.order.set(w, this.order.at(i));
      this.orderStamps[w] = this.orderStamps[i]!;
      w++;
    }
    this.order.truncate(w);
  }

  private preempt(s: Seq): void {
    if (s.inGroup) this.leave(s);
    else {
      const i = this.prefilling.indexOf(s);
      if (i >= 0) this.prefilling.removeAt(i);
    }
    this.release(s);
    s.state = WAITING;
    s.kvTokens = 0;
    s.prefillTarget = s.promptTokens + s.generated;
    s.scheduledTokens = 0;
    s.preemptions++;
    this.usage.preemptions++;
    this.waiting.pushFront(s);
    this.waitingLive++;
  }

  private addPrefill(s: Seq, tokens: number): void {
    s.scheduledTokens = tokens;
    const st = this.step;
    st.prefillSeqs++;
    st.prefillTokens += tokens;
    st.prefillContextTokens += s.kvTokens;
    st.prefillAttnPairs += causalPairs(tokens, s.kvTokens);
  }

  admitHead(maxTokens: number, partial: boolean): number {
    let s = this.waiting.peekFront();
    while (s !== undefined && s.state === GONE) {
      this.waiting.popFront();
      s = this.waiting.peekFront();
    }
    if (s === undefined) return 0;
    const bs = this.blockSize;
    const target = s.prefillTarget;
    const maxHit = Math.floor((target - 1) / bs);
    const keys = s.req.keys;
    let hits = 0;
    let idleHits = 0;
    let hitTokens = 0;
    if (keys !== null && maxHit > 0) {
      // A blocked head is tried at every step: reject it in O(log n) with the binary-searched
      // prefix length (never shorter than the block-by-block one, so the test only errs towards
      // trying), and count hits block by block only when it may fit.
      const upper = Math.min(this.kv.cachedPrefixLength(keys), maxHit);
      const tokensAtUpper = Math.min(target - upper * bs, partial ? maxTokens : Infinity);
      if (
        (!partial && target - upper * bs > maxTokens) ||
        this.kv.available() - this.blocksFor(tokensAtUpper) < this.watermarkBlocks
      )
        return 0;
      hits = this.kv.lookup(keys, maxHit);
      idleHits = this.kv.lastIdleHits;
      hitTokens = hits * bs;
    } else if (s.req.trustedCachedTokens > 0 && maxHit > 0) {
      hitTokens = Math.min(Math.floor(s.req.trustedCachedTokens / bs), maxHit) * bs;
    }
    let tokens = target - hitTokens;
    if (tokens > maxTokens) {
      if (!partial) return 0;
      tokens = maxTokens;
    }
    const newBlocks = this.blocksFor(hitTokens + tokens) - hits;
    if (this.kv.available() - idleHits - newBlocks < this.watermarkBlocks) return 0;
    this.waiting.popFront();
    this.waitingLive--;
    if (hits > 0) this.kv.acquireLookedUp(hits, this.idsFor(s, hits));
    this.kv.allocate(newBlocks);
    s.kvTokens = hitTokens;
    s.sharedBlocks = hits;
    s.blocksHeld = hits + newBlocks;
    s.state = RUNNING;
    s.stamp = ++this.stampCounter;
    this.orderStamps[this.order.length] = s.stamp;
    this.order.push(s);
    this.prefilling.push(s);
    this.prefixLookups++;
    this.prefixQueriedTokens += target;
    this.prefixHitTokens += hitTokens;
    if (Number.isNaN(s.firstScheduledS)) {
      s.firstScheduledS = this.now;
      s.cachedTokens = hitTokens;
    }
    this.addPrefill(s, tokens);
    return tokens;
  }

  /** Throws if this replica's attempt counts or KV blocks do not add up (debug checks). */
  check(where: string): void {
    this.kv.check(`${where}, replica ${this.index}`);
    const live =
      this.completed + this.rejected + this.failed + this.timedOut + this.waitingLive + this.liveRunning();
    if (live !== this.arrived)
      throw new Error(
        `conservation broken at ${where}, replica ${this.index}: arrived ${this.arrived} ≠ completed ${this.completed} + ` +
          `rejected ${this.rejected} + failed ${this.failed} + timed out ${this.timedOut} + waiting ${this.waitingLive} + running ${this.liveRunning()}`,
      );
    // Every private block belongs to a running sequence: members hold blocks for their context
    // plus the steps allocated ahead.
    const ahead = this.busy && this.groupScheduled ? this.planAlloc : 0;
    let held = 0;
    let running = 0;
    for (let i = 0; i < this.order.length; i++) {
      if (!this.isLive(i)) continue;
      const s = this.order.at(i);
      running++;
      const blocks = s.inGroup ? this.blocksFor(s.groupKv + this.D + ahead) : s.blocksHeld;
      held += blocks - s.sharedBlocks;
    }
    if (this.loads[this.index] !== this.outstanding())
      throw new Error(
        `replica ${this.index}: load array says ${this.loads[this.index]}, outstanding ${this.outstanding()}`,
      );
    if (running !== this.runningCount())
      throw new Error(
        `replica ${this.index}: ${running} running in admission order, ${this.runningCount()} counted`,
      );
    if (held !== this.kv.privateBlocks)
      throw new Error(
        `replica ${this.index}: sequences hold ${held} private blocks, the pool says ${this.kv.privateBlocks}`,
      );
  }
}
