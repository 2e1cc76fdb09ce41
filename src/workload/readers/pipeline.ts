import type { TraceRequest } from '../types.js';
import { fmtS, type ReaderContext } from './context.js';

/** Requests per batch handed to the consumer. */
export const BATCH_SIZE = 4096;

/**
 * A step between the row parser and the consumer. Rows come in with their line number; `end()`
 * flushes whatever a stage holds back (sorting, bucket spreading).
 */
export interface Stage {
  push(r: TraceRequest, line: number): void;
  end(): void;
}

/** The last stage: numbers requests 0, 1, 2, … in output order and collects them into batches. */
export class Sink implements Stage {
  out: TraceRequest[] = [];
  private nextId = 0;
  constructor(private readonly ctx: ReaderContext) {}
  push(r: TraceRequest): void {
    r.id = this.nextId++;
    this.out.push(r);
    this.ctx.report.rows++;
  }
  end(): void {}
  /** Hand over the collected requests. */
  take(): TraceRequest[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

/** Streaming mode: a row earlier than the one before is an error (or a skipped bad row). */
export class OrderCheck implements Stage {
  private prevS = -Infinity;
  private prevLine = 0;
  constructor(
    private readonly ctx: ReaderContext,
    private readonly next: Stage,
  ) {}
  push(r: TraceRequest, line: number): void {
    if (r.arrivalS < this.prevS) {
      this.ctx.bad(
        this.ctx.rowError(
          line,
          'arrival',
          `≥ previous arrival ${fmtS(this.prevS)} s (line ${this.prevLine})`,
          `${fmtS(r.arrivalS)} s; pass --sort to sort in memory`,
        ),
      );
      return;
    }
    this.prevS = r.arrivalS;
    this.prevLine = line;
    this.next.push(r, line);
  }
  end(): void {
    this.next.end();
  }
}

/** --sort: hold every row, then stable-sort by arrival (ties keep file order) and pass them on. */
export class SortAll implements Stage {
  private rows: TraceRequest[] = [];
  private lines: number[] = [];
  private outOfOrder = 0;
  private prevS = -Infinity;
  constructor(
    private readonly ctx: ReaderContext,
    private readonly next: Stage,
  ) {}
  push(r: TraceRequest, line: number): void {
    if (r.arrivalS < this.prevS) this.outOfOrder++;
    else this.prevS = r.arrivalS;
    this.rows.push(r);
    this.lines.push(line);
  }
  end(): void {
    const n = this.rows.length;
    const order = Array.from({ length: n }, (_, i) => i);
    const rows = this.rows;
    if (this.outOfOrder > 0)
      order.sort((a, b) => (rows[a] as TraceRequest).arrivalS - (rows[b] as TraceRequest).arrivalS || a - b);
    this.ctx.warn(
      `--sort: held all ${n} rows in memory and sorted them by arrival (stable); ` +
        (this.outOfOrder > 0
          ? `${this.outOfOrder} row(s) were earlier than a row before them`
          : 'they were already in order'),
    );
    for (const i of order) this.next.push(rows[i] as TraceRequest, this.lines[i] as number);
    this.rows = [];
    this.lines = [];
    this.next.end();
  }
}

/** Absolute clocks (datetimes, epochs): shift so that the first request (after ordering) is at t = 0. */
export class ShiftToZero implements Stage {
  private originS: number | undefined;
  constructor(private readonly next: Stage) {}
  push(r: TraceRequest, line: number): void {
    if (this.originS === undefined) this.originS = r.arrivalS;
    r.arrivalS -= this.originS;
    this.next.push(r, line);
  }
  end(): void {
    this.next.end();
  }
}
