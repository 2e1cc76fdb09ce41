import TinyQueue from 'tinyqueue';
import { WeightedIntDistribution } from '../metrics/distribution.js';
import {
  RequestMetrics,
  type LatencySummary,
  type RequestsSummary,
  type TokensSummary,
} from '../metrics/requests.js';
import { sloMissOf, type SloSummary } from '../metrics/slo.js';
import type { IntDistributionSummary, RequestRecord, SloSpec } from '../metrics/types.js';
import type { ReplicaUsageSummary } from '../metrics/usage.js';
import type { ReplicaPerf } from '../perf/types.js';
import { InputError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { TraceRequest } from '../workload/types.js';
import { resolveEngineConfig, type EngineConfigInput } from './config.js';
import { fnv1a, keysForSessionTurn, keysFromTraceHashes } from './hashing.js';
import { IndexedMinHeap } from './heap.js';
import {
  makeAdmissionPolicy,
  makeBatchPolicy,
  makePreemptionPolicy,
  makeRouter,
} from './policies/registry.js';
import { Replica, type BoundaryInfo, type ReplicaHooks } from './replica.js';
import { GONE, Req, RUNNING, Seq, SessionState, TimeSlots, type AttemptEnd } from './seq.js';
import type { AdmissionPolicy, ClusterView, EngineConfig, Router } from './types.js';

/** Checks and hooks for tests; they slow the engine down. */
export interface DebugOptions {
  /** Verify request conservation and KV block accounting after every event; throw on a violation. */
  checkInvariants?: boolean;
  /** Called at every step end (every plan end with jumping) with the replica's state after the next step was formed. */
  onBoundary?: (info: BoundaryInfo) => void;
  /** Called with the time of every event the loop processes, in order. */
  onEvent?: (kind: 'arrival' | 'step' | 'timeout', timeS: number) => void;
}

export interface SimulationInput {
  /** The workload, in batches of nondecreasing arrivalS (closed-loop turns are re-timed by the engine). */
  requests: AsyncIterable<TraceRequest[]> | Iterable<TraceRequest[]>;
  /** One performance model per replica, or a factory called for i = 0 … config.replicas − 1. */
  replicas: readonly ReplicaPerf[] | ((i: number) => ReplicaPerf);
  config?: EngineConfigInput;
  slo: SloSpec;
  /** Seeds every random choice (retry jitter, random routing). */
  seed: number;
  /** Each request's record when its outcome is final (in order of finalization). */
  onRequest?: (r: RequestRecord) => void;
  /** Called now and then with the simulated time and the number of requests finished. */
  onProgress?: (simTimeS: number, done: number) => void;
  debug?: DebugOptions;
}

export interface AttemptsSummary {
  arrived: number;
  completed: number;
  rejected: number;
  timedOut: number;
  failed: number;
  /** Attempts after the first (arrived − requests). */
  retries: number;
}

export interface PrefixCacheSummary {
  enabled: boolean;
  /** Admissions that looked the cache up (recompute after preemption included). */
  lookups: number;
  queriedTokens: number;
  hitTokens: number;
  /** hitTokens / queriedTokens. */
  hitRate: number;
  evictedBlocks: number;
  /** Requests whose prefix keys came from trace hash ids, re-blocked to the engine's block size. */
  reblockedRequests: number;
  /** Requests whose keys came from trace hash ids at the engine's block size. */
  hashedRequests: number;
  /** Session turns without hash ids whose keys were derived (each turn extends the previous). */
  derivedSessionRequests: number;
  /** Requests with only a source-reported cached-token count, trusted as hits. */
  trustedCachedRequests: number;
}

export interface UtilizationSummary {
  busyS: number;
  prefillBusyS: number;
  decodeBusyS: number;
  /** Busy time over (replicas × duration). */
  busyFraction: number;
  batchSize: IntDistributionSummary;
  kvOccupancyPermille: IntDistributionSummary;
}

/** Everything the simulation measured. JSON-serializable (NaN/Infinity print as null with toJson). */
export interface SimulationSummary {
  seed: number;
  config: EngineConfig;
  replicaCount: number;
  /** Time of the last event (first arrival is at or after 0). */
  durationS: number;
  requests: RequestsSummary;
  attempts: AttemptsSummary;
  tokens: TokensSummary & {
    /** Prompt tokens prefilled on replicas (recompute after preemption included, cache hits excluded). */
    prefillComputed: number;
    /** Output tokens emitted by replicas (equals tokens.outputGenerated). */
    emitted: number;
  };
  latency: LatencySummary;
  slo: SloSummary;
  /** Accepted output tokens per second of durationS. */
  goodputTokPerS: number;
  /** Output tokens of completed requests per second. */
  throughputTokPerS: number;
  /** Completed requests per second. */
  completedPerS: number;
  preemptions: number;
  prefixCache: PrefixCacheSummary;
  utilization: UtilizationSummary;
  sessions: {
    count: number;
    /** Closed-loop turns read from the trace after their due time (lookahead too short); they arrived late. */
    lateTurns: number;
  };
  replicas: ReplicaUsageSummary[];
  /** How much work the event loop did: events processed, step ends among them, steps simulated (> step ends when jumping). */
  loop: { events: number; stepEnds: number; steps: number };
  notes: string[];
}

interface ArrivalEvent {
  t: number;
  n: number;
  req: Req;
  /**
   * Where the arrival sits among the step ends at exactly time t in step-by-step order: -1 before
   * all of them; j after those of replicas < j (it was caused by replica j's step end at t);
   * the replica count: after all (caused by a timeout at t).
   */
  pos: number;
}

const PROGRESS_EVERY = 1 << 14;

function newRecord(): RequestRecord {
  return {
    id: 0,
    sessionId: undefined,
    turn: undefined,
    replica: -1,
    attempts: 0,
    arrivalS: NaN,
    attemptArrivalS: NaN,
    admittedS: NaN,
    firstScheduledS: NaN,
    firstTokenS: NaN,
    endS: NaN,
    queueDelayS: NaN,
    ttftS: NaN,
    tpotS: NaN,
    maxItlS: NaN,
    e2eS: NaN,
    promptTokens: 0,
    outputTokens: 0,
    generatedTokens: 0,
    wastedTokens: 0,
    cachedPromptTokens: 0,
    preemptions: 0,
    outcome: 'accepted',
    sloMiss: undefined,
  };
}

/** Run a workload through a simulated cluster. Deterministic: the same input and seed give the same summary. */
export async function simulate(input: SimulationInput): Promise<SimulationSummary> {
  const engine = new Engine(input);
  await engine.run();
  return engine.summary();
}

class Engine implements ReplicaHooks {
  private readonly config: EngineConfig;
  private readonly replicas: Replica[];
  private readonly loads: Int32Array;
  private readonly cluster: ClusterView;
  private readonly heap: IndexedMinHeap;
  private readonly router: Router;
  private readonly admission: AdmissionPolicy;
  private readonly routerRng: Rng;
  private readonly retryRng: Rng;
  private readonly metrics = new RequestMetrics();
  private readonly times = new TimeSlots();
  private readonly scratch: RequestRecord = newRecord();
  private readonly events = new TinyQueue<ArrivalEvent>([], (a, b) => a.t - b.t || a.n - b.n);
  private eventSeq = 0;
  private readonly sessions = new Map<string, SessionState>();
  private hasClosedLoop = false;
  private lateTurns = 0;
  private readonly notes = new Set<string>();

  // trace ingestion
  private readonly source: AsyncIterator<TraceRequest[]> | Iterator<TraceRequest[]>;
  private streamDone = false;
  private readonly fifo: TraceRequest[][] = [];
  private fifoHead = 0;
  private fifoPos = 0;
  private lastFifoArrivalS = -Infinity;
  private lastIngestedS = -Infinity;
  private ingested = 0;

  // client timeouts: deadlines are pushed in nondecreasing order (attempt arrival + constant)
  private toSeqs: Seq[] = [];
  private toDeadlines: number[] = [];
  private toHead = 0;

  private clock = 0;
  /** Position (see ArrivalEvent.pos) of the event being processed. */
  private curPos = -1;
  private lastEventS = 0;
  private done = 0;
  private eventCount = 0;
  private stepEnds = 0;
  private attempts = { arrived: 0, completed: 0, rejected: 0, timedOut: 0, failed: 0 };
  private keyStats = { hashed: 0, reblocked: 0, derived: 0, trusted: 0 };

  constructor(private readonly input: SimulationInput) {
    const perfs = input.replicas;
    const count = typeof perfs === 'function' ? (input.config?.replicas ?? 1) : perfs.length;
    this.config = resolveEngineConfig({ ...input.config, replicas: count });
    if (!Number.isInteger(input.seed)) throw new InputError(`seed: expected an integer, found ${input.seed}`);
    const batch = makeBatchPolicy(this.config);
    const preemption = makePreemptionPolicy(this.config);
    this.router = makeRouter(this.config);
    this.admission = makeAdmissionPolicy(this.config);
    const root = new Rng(input.seed);
    this.routerRng = root.fork();
    this.retryRng = root.fork();
    this.replicas = [];
    this.loads = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const perf = typeof perfs === 'function' ? perfs(i) : perfs[i]!;
      this.replicas.push(
        new Replica(i, perf, this.config, batch, preemption, this, input.debug?.onBoundary, this.loads),
      );
    }
    this.cluster = { replicas: this.replicas, outstanding: this.loads };
    this.heap = new IndexedMinHeap(count);
    const src = input.requests;
    this.source = Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : src[Symbol.iterator]();
  }

  // ---------------------------------------------------------------- ingestion

  private fifoEmpty(): boolean {
    while (this.fifoHead < this.fifo.length && this.fifoPos >= this.fifo[this.fifoHead]!.length) {
      this.fifo[this.fifoHead] = [];
      this.fifoHead++;
      this.fifoPos = 0;
    }
    if (this.fifoHead > 1024) {
      this.fifo.splice(0, this.fifoHead);
      this.fifoHead = 0;
    }
    return this.fifoHead >= this.fifo.length;
  }

  private needFill(): boolean {
    if (this.streamDone) return false;
    if (this.fifoEmpty()) return true;
    return this.hasClosedLoop && this.lastIngestedS <= this.clock + this.config.sessionLookaheadS;
  }

  private async fill(): Promise<void> {
    while (this.needFill()) {
      const r = await this.source.next();
      if (r.done === true) {
        this.streamDone = true;
        return;
      }
      const batch = r.value;
      const independent: TraceRequest[] = [];
      for (const req of batch) if (this.ingest(req)) independent.push(req);
      if (independent.length > 0) this.fifo.push(independent);
    }
  }

  /** Take one request from the stream; true if it goes to the arrival FIFO (open loop). */
  private ingest(r: TraceRequest): boolean {
    this.ingested++;
    if (!(Number.isFinite(r.arrivalS) && r.arrivalS >= 0))
      throw new InputError(`request ${r.id}: arrivalS: expected seconds ≥ 0, found ${r.arrivalS}`);
    if (!(Number.isInteger(r.promptTokens) && r.promptTokens >= 1))
      throw new InputError(`request ${r.id}: promptTokens: expected an integer ≥ 1, found ${r.promptTokens}`);
    if (!(Number.isInteger(r.outputTokens) && r.outputTokens >= 0))
      throw new InputError(`request ${r.id}: outputTokens: expected an integer ≥ 0, found ${r.outputTokens}`);
    if (r.arrivalS > this.lastIngestedS) this.lastIngestedS = r.arrivalS;
    if (r.sessionId === undefined) return this.toFifo(r);
    let s = this.sessions.get(r.sessionId);
    if (s === undefined) {
      s = new SessionState(fnv1a(r.sessionId));
      this.sessions.set(r.sessionId, s);
    }
    if (r.dependsOnPrevious === true) {
      this.hasClosedLoop = true;
      if (s.inFlight === 0 && s.pending.length === 0) {
        let a: number;
        if (s.seen) {
          a = s.lastEndS + (r.gapS ?? 0);
          if (a < this.clock) {
            this.lateTurns++;
            a = this.clock;
          }
        } else a = Math.max(r.arrivalS, this.clock);
        this.scheduleTurn(r, a, s);
      } else s.pending.push(r);
      s.seen = true;
      return false;
    }
    s.seen = true;
    s.inFlight++;
    return this.toFifo(r);
  }

  private toFifo(r: TraceRequest): boolean {
    if (r.arrivalS < this.lastFifoArrivalS)
      throw new InputError(
        `request ${r.id}: arrivalS ${r.arrivalS} is before the previous request's ${this.lastFifoArrivalS}; ` +
          'the engine needs requests in nondecreasing arrival order',
      );
    this.lastFifoArrivalS = r.arrivalS;
    return true;
  }

  private scheduleTurn(r: TraceRequest, a: number, s: SessionState): void {
    s.inFlight++;
    this.pushArrival(a, this.makeReq(r, a, s));
  }

  private pushArrival(t: number, req: Req): void {
    this.events.push({ t, n: this.eventSeq++, req, pos: t === this.clock ? this.curPos : -1 });
  }

  private makeReq(r: TraceRequest, arrivalS: number, s: SessionState | null): Req {
    const req = new Req(r, arrivalS, s);
    if (!this.config.prefixCaching) return req;
    const bs = this.config.blockSize;
    let keys: Float64Array | null = null;
    if (r.hashIds !== undefined && r.hashIds.length > 0) {
      const traceBs = r.blockSize ?? bs;
      if (r.blockSize === undefined)
        this.notes.add(
          `prefix hash ids without a block size were taken to be ${bs}-token blocks (the engine's)`,
        );
      if (traceBs !== bs) {
        this.keyStats.reblocked++;
        this.notes.add(
          `prefix hash ids of ${traceBs}-token blocks were re-blocked to the engine's ${bs}-token blocks ` +
            '(approximate: an engine block counts as cached only if the whole trace block holding its last token is)',
        );
      } else this.keyStats.hashed++;
      keys = keysFromTraceHashes(r.hashIds, traceBs, r.promptTokens, bs);
    } else if (s !== null) {
      if (s.lastPromptTokens >= 0 && r.promptTokens < s.lastPromptTokens) s.epoch++;
      s.lastPromptTokens = r.promptTokens;
      keys = keysForSessionTurn(s.key, s.epoch, r.promptTokens + r.outputTokens, bs);
      this.keyStats.derived++;
    } else if (r.cachedPromptTokens !== undefined && r.cachedPromptTokens > 0) {
      req.trustedCachedTokens = r.cachedPromptTokens;
      this.keyStats.trusted++;
    }
    if (keys !== null && keys.length > 0) req.keys = keys;
    return req;
  }

  // ---------------------------------------------------------------- the loop

  async run(): Promise<void> {
    const debug = this.input.debug;
    const check = debug?.checkInvariants === true;
    const onEvent = debug?.onEvent;
    const onProgress = this.input.onProgress;
    let iterations = 0;
    for (;;) {
      if (this.needFill()) await this.fill();
      const head = this.fifoHead < this.fifo.length ? this.fifo[this.fifoHead]! : undefined;
      const tA =
        head !== undefined && this.fifoPos < head.length
          ? head[this.fifoPos]!.arrivalS
          : this.fifoEmpty()
            ? Infinity
            : this.fifo[this.fifoHead]![this.fifoPos]!.arrivalS;
      const top = this.events.peek();
      const tE = top === undefined ? Infinity : top.t;
      const tR = this.heap.peekKey();
      const tT = this.timeoutHead();
      const tArr = tA <= tE ? tA : tE;
      let t: number;
      if (tArr <= tR && tArr <= tT) {
        if (tArr === Infinity) break;
        t = tArr;
        this.advance(t);
        if (tA <= tE) {
          const r = this.fifo[this.fifoHead]![this.fifoPos++]!;
          this.curPos = -1;
          this.arrive(
            this.makeReq(r, r.arrivalS, r.sessionId === undefined ? null : this.sessions.get(r.sessionId)!),
            t,
          );
        } else {
          const ev = this.events.pop()!;
          this.curPos = ev.pos;
          this.arrive(ev.req, t);
        }
        onEvent?.('arrival', t);
      } else if (tR <= tT) {
        t = tR;
        this.advance(t);
        const id = this.heap.peekId();
        const r = this.replicas[id]!;
        this.curPos = id;
        if (r.busy) this.stepEnds++;
        r.boundary(t);
        this.heap.set(id, r.nextS);
        onEvent?.('step', t);
      } else {
        t = tT;
        this.advance(t);
        const seq = this.toSeqs[this.toHead]!;
        this.popTimeout();
        this.curPos = this.replicas.length;
        const r = this.replicas[seq.replica]!;
        r.timeout(seq, t);
        this.heap.set(r.index, r.nextS);
        this.attemptEnded(seq, 'timeout', t);
        onEvent?.('timeout', t);
      }
      this.eventCount++;
      if (check) this.checkInvariants(t);
      if (onProgress !== undefined && ++iterations % PROGRESS_EVERY === 0) onProgress(this.clock, this.done);
    }
    onProgress?.(this.clock, this.done);
    this.finish();
  }

  private advance(t: number): void {
    if (t < this.clock) throw new Error(`clock went back from ${this.clock} to ${t}`);
    this.clock = t;
    this.lastEventS = t;
  }

  private timeoutHead(): number {
    while (this.toHead < this.toSeqs.length) {
      const s = this.toSeqs[this.toHead]!;
      if (s.state !== GONE && !s.ended) return this.toDeadlines[this.toHead]!;
      this.popTimeout();
    }
    return Infinity;
  }

  private popTimeout(): void {
    this.toHead++;
    if (this.toHead >= 65536 && this.toHead * 2 >= this.toSeqs.length) {
      this.toSeqs = this.toSeqs.slice(this.toHead);
      this.toDeadlines = this.toDeadlines.slice(this.toHead);
      this.toHead = 0;
    }
  }

  // ---------------------------------------------------------------- attempts

  private arrive(req: Req, t: number): void {
    const attempt = ++req.attempts;
    const seq = new Seq(req, attempt, t, this.times);
    this.attempts.arrived++;
    const replicas = this.replicas;
    const pos = this.curPos;
    if (this.router.readsKvState) for (let i = 0; i < replicas.length; i++) replicas[i]!.sync(t, i < pos);
    const i = this.router.route(seq, this.cluster, this.routerRng);
    if (!(Number.isInteger(i) && i >= 0 && i < replicas.length))
      throw new Error(
        `router ${this.router.name} returned ${i}, expected a replica index in [0, ${replicas.length})`,
      );
    const r = replicas[i]!;
    r.arrived++;
    seq.replica = i;
    if (!this.admission.admit(r, this.config)) {
      r.rejected++;
      seq.state = GONE;
      this.attemptEnded(seq, 'rejected', t);
      return;
    }
    if (!r.fits(seq.promptTokens, seq.outputTokens)) {
      r.failed++;
      seq.state = GONE;
      this.notes.add(
        `requests whose prompt + output does not fit in a replica's KV pool (less the watermark) fail at once`,
      );
      this.attemptEnded(seq, 'failed', t);
      return;
    }
    r.enqueue(seq, t, i < pos);
    this.heap.set(i, r.nextS);
    if (this.config.timeoutS < Infinity) {
      this.toSeqs.push(seq);
      this.toDeadlines.push(t + this.config.timeoutS);
    }
  }

  /** An attempt's outcome is decided at t (it may still be on a replica until its step ends). */
  private attemptEnded(seq: Seq, kind: AttemptEnd, t: number): void {
    const req = seq.req;
    const a = this.attempts;
    if (kind === 'completed') a.completed++;
    else if (kind === 'rejected') a.rejected++;
    else if (kind === 'timeout') a.timedOut++;
    else a.failed++;
    seq.endS = t;
    const held = seq.state === RUNNING;
    if (held) req.pendingReleases++;
    else this.account(seq, kind === 'completed');
    const retry = this.config.retry;
    if (kind !== 'completed' && req.attempts < retry.maxAttempts && (retry.on as string[]).includes(kind)) {
      const delay =
        retry.backoffS *
        Math.pow(retry.multiplier, req.attempts - 1) *
        (1 + retry.jitter * this.retryRng.uniform());
      this.pushArrival(t + delay, req);
      if (!held) seq.releaseTimes();
      return;
    }
    req.final = seq;
    req.finalEnd = kind;
    const s = req.session;
    if (s !== null) {
      s.inFlight--;
      s.lastEndS = t;
      if (s.inFlight === 0 && s.pending.length > 0) {
        const next = s.pending.shift()!;
        this.scheduleTurn(next, t + (next.gapS ?? 0), s);
      }
    }
    if (req.pendingReleases === 0) this.finalize(req);
  }

  private account(seq: Seq, completed: boolean): void {
    seq.req.generated += seq.generated;
    if (!completed) seq.req.wasted += seq.generated;
  }

  onCompleted(seq: Seq, t: number): void {
    this.attemptEnded(seq, 'completed', t);
  }

  onReleased(seq: Seq): void {
    const req = seq.req;
    this.account(seq, false);
    req.pendingReleases--;
    if (req.final !== seq) seq.releaseTimes();
    if (req.finalEnd !== null && req.pendingReleases === 0) this.finalize(req);
  }

  private finalize(req: Req): void {
    const s = req.final!;
    const tr = req.trace;
    const n = tr.outputTokens;
    const completed = req.finalEnd === 'completed';
    let ttftS = NaN;
    let tpotS = NaN;
    let e2eS = NaN;
    let maxItlS = NaN;
    let outcome: RequestRecord['outcome'];
    let sloMiss: RequestRecord['sloMiss'];
    if (completed) {
      ttftS = s.firstTokenS - req.arrivalS;
      e2eS = s.endS - req.arrivalS;
      if (n >= 2) {
        tpotS = (s.endS - s.firstTokenS) / (n - 1);
        maxItlS = s.maxItlS;
      }
      sloMiss = sloMissOf(this.input.slo, ttftS, tpotS, e2eS);
      outcome = sloMiss === undefined ? 'accepted' : 'slo-miss';
    } else {
      outcome = req.finalEnd === 'timeout' ? 'timeout' : req.finalEnd === 'rejected' ? 'rejected' : 'failed';
    }
    const admitted = req.finalEnd !== 'rejected' && req.finalEnd !== 'failed';
    // Without an onRequest listener the record is only aggregated: reuse one object (no garbage).
    const record: RequestRecord = this.input.onRequest !== undefined ? newRecord() : this.scratch;
    record.id = tr.id;
    record.sessionId = tr.sessionId;
    record.turn = tr.turn;
    record.replica = s.replica;
    record.attempts = req.attempts;
    record.arrivalS = req.arrivalS;
    record.attemptArrivalS = s.arrivalS;
    record.admittedS = admitted ? s.arrivalS : NaN;
    record.firstScheduledS = s.firstScheduledS;
    record.firstTokenS = s.firstTokenS;
    record.endS = s.endS;
    record.queueDelayS = s.firstScheduledS - s.arrivalS;
    record.ttftS = ttftS;
    record.tpotS = tpotS;
    record.maxItlS = maxItlS;
    record.e2eS = e2eS;
    record.promptTokens = tr.promptTokens;
    record.outputTokens = n;
    record.generatedTokens = req.generated;
    record.wastedTokens = req.wasted;
    record.cachedPromptTokens = s.cachedTokens;
    record.preemptions = s.preemptions;
    record.outcome = outcome;
    record.sloMiss = sloMiss;
    s.releaseTimes();
    this.metrics.add(record);
    this.done++;
    this.input.onRequest?.(record);
  }

  // ---------------------------------------------------------------- checks and summary

  private checkInvariants(t: number): void {
    const where = `t=${t}`;
    let queued = 0;
    let running = 0;
    for (const r of this.replicas) {
      r.check(where);
      queued += r.waitingCount();
      running += r.liveRunning();
    }
    const a = this.attempts;
    const sum = a.completed + a.rejected + a.timedOut + a.failed + queued + running;
    if (sum !== a.arrived)
      throw new Error(
        `cluster conservation broken at ${where}: arrived ${a.arrived} ≠ completed ${a.completed} + rejected ${a.rejected} + ` +
          `timed out ${a.timedOut} + failed ${a.failed} + queued ${queued} + running ${running}`,
      );
  }

  private finish(): void {
    if (this.done !== this.ingested) {
      let waiting = 0;
      for (const r of this.replicas) waiting += r.outstanding();
      throw new Error(
        `engine stalled: ${this.ingested - this.done} of ${this.ingested} requests unfinished (${waiting} on replicas, ` +
          `${this.events.length} scheduled)`,
      );
    }
  }

  summary(): SimulationSummary {
    const durationS = this.lastEventS;
    const m = this.metrics;
    const tokens = m.tokens;
    let emitted = 0;
    let prefillComputed = 0;
    let preemptions = 0;
    let lookups = 0;
    let queried = 0;
    let hit = 0;
    let evicted = 0;
    let busyS = 0;
    let prefillBusyS = 0;
    let decodeBusyS = 0;
    const batchSize = new WeightedIntDistribution();
    const kvOcc = new WeightedIntDistribution();
    for (const r of this.replicas) {
      emitted += r.emittedTokens;
      prefillComputed += r.prefillTokens;
      preemptions += r.usage.preemptions;
      lookups += r.prefixLookups;
      queried += r.prefixQueriedTokens;
      hit += r.prefixHitTokens;
      evicted += r.kv.evictions;
      busyS += r.usage.busyS;
      prefillBusyS += r.usage.prefillBusyS;
      decodeBusyS += r.usage.decodeBusyS;
      batchSize.merge(r.usage.batchSize);
      kvOcc.merge(r.usage.kvOccupancy);
    }
    if (emitted !== tokens.outputGenerated)
      throw new Error(
        `output tokens do not add up: replicas emitted ${emitted}, requests generated ${tokens.outputGenerated}`,
      );
    const completedReqs = m.byOutcome.accepted + m.byOutcome['slo-miss'];
    const per = (x: number): number => (durationS > 0 ? x / durationS : 0);
    const notes = [...this.notes];
    if (this.lateTurns > 0)
      notes.push(
        `${this.lateTurns} closed-loop turns were read after their due time and arrived late; raise sessionLookaheadS`,
      );
    if (!this.config.stepJumping) notes.push('step jumping off: every step simulated');
    const a = this.attempts;
    return {
      seed: this.input.seed,
      config: this.config,
      replicaCount: this.replicas.length,
      durationS,
      requests: m.requests(),
      attempts: { ...a, retries: a.arrived - m.total },
      tokens: { ...tokens, prefillComputed, emitted },
      latency: m.latency(),
      slo: m.slo(this.input.slo),
      goodputTokPerS: per(tokens.outputAccepted),
      throughputTokPerS: per(tokens.outputAccepted + tokens.outputSloMiss),
      completedPerS: per(completedReqs),
      preemptions,
      prefixCache: {
        enabled: this.config.prefixCaching,
        lookups,
        queriedTokens: queried,
        hitTokens: hit,
        hitRate: queried > 0 ? hit / queried : 0,
        evictedBlocks: evicted,
        reblockedRequests: this.keyStats.reblocked,
        hashedRequests: this.keyStats.hashed,
        derivedSessionRequests: this.keyStats.derived,
        trustedCachedRequests: this.keyStats.trusted,
      },
      utilization: {
        busyS,
        prefillBusyS,
        decodeBusyS,
        busyFraction: durationS > 0 ? busyS / (durationS * this.replicas.length) : 0,
        batchSize: batchSize.summary(),
        kvOccupancyPermille: kvOcc.summary(),
      },
      sessions: { count: this.sessions.size, lateTurns: this.lateTurns },
      replicas: this.replicas.map((r) => r.usage.summary(durationS)),
      loop: {
        events: this.eventCount,
        stepEnds: this.stepEnds,
        steps: this.replicas.reduce((n, r) => n + r.usage.steps, 0),
      },
      notes,
    };
  }
}
