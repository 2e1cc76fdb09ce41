// Vendor quotes: the quote ledger by hand, take-or-pay commitments, errors with file:line:col, and
// quotes as candidates of `compare` / `pertoken quote`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { compareScenario, compareCsv, compareMarkdown, compareText } from '../src/cost/index.js';
import { apiLedger, type Ledger, type SharedCosts, type Usage } from '../src/cost/ledger.js';
import { checkVendorLatency, peakWeightedRate, type Arrivals } from '../src/cost/quote.js';
import {
  commitmentCharge,
  managedEndpointLedger,
  perTokenQuoteLedger,
  unitsNeeded,
} from '../src/cost/quote-ledger.js';
import { loadQuote } from '../src/cost/quote-schema.js';
import { InputError } from '../src/util/errors.js';
import { repoRoot, runCli } from './helpers/cli.js';

const close = (a: number, b: number, tol = 1e-9): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
const line = (l: Ledger, name: string): number => l.lines.find((x) => x.name === name)!.usd;
const sumLines = (l: Ledger): number => l.lines.reduce((s, x) => s + x.usd, 0);

// One hour of traffic: 0.9M accepted + 0.1M wasted input tokens, 0.18M + 0.02M output tokens.
const USAGE: Usage = {
  spanS: 3600,
  replicas: 0,
  chipsPerReplica: 0,
  prefillBusyS: 0,
  decodeBusyS: 0,
  acceptedRequests: 1000,
  acceptedInputTokens: 900_000,
  acceptedOutputTokens: 180_000,
  wastedInputTokens: 100_000,
  wastedOutputTokens: 20_000,
  sessions: null,
};
const NO_SHARED: SharedCosts = {
  orchestrationUsdPerMonth: 0,
  orchestrationShare: 1,
  egressUsdPerGb: 0,
  bytesPerOutputToken: 4,
  hostUsdPerInstanceHour: 0,
  storageUsdPerGbMonth: 0,
  storageBytesPerReplica: 0,
  migration: { engineerMonths: 0, usdPerEngineerMonth: 0, amortizeMonths: 24, maintenanceUsdPerMonth: 0 },
};
const AS_IS = { days: 30, mapping: 'as-is' } as const;
const basis = (l: Ledger, name: string): string => l.lines.find((x) => x.name === name)!.basis;
/** Arrivals from [arrival s, prompt tokens, output tokens] rows, sorted as the trace is. */
const arrivals = (rows: [number, number, number][]): Arrivals => ({
  arrivalS: rows.map((r) => r[0]),
  promptTokens: rows.map((r) => r[1]),
  outputTokens: rows.map((r) => r[2]),
});

describe('take-or-pay commitments', () => {
  it('a 1-month term on a 30-day window: pro rata; the other 10 hours (1.4 % of the term) stated, not flagged', () => {
    // 2 units × $10/h, $1,460 upfront over 730 h → $10 + 1460 / (2 × 730) = $11 per unit-hour.
    // window 720 h: 2 × 11 × 720 = $15,840; the whole term 2 × 11 × 730 = $16,060; $220 beyond it.
    // 730 − 720 = 10 h beyond the window = 10 / 730 = 1.4 % of the term < 2 %: no warning.
    const c = { usdPerUnitHour: 10, units: 2, termMonths: 1, upfrontUsd: 1460, mode: 'amortize' } as const;
    const a = commitmentCharge(c, 720);
    close(a.effectiveUsdPerUnitHour, 11);
    close(a.proRataUsd, 15_840);
    close(a.beyondWindowUsd, 220);
    assert.equal(a.extraUsd, 0);
    assert.equal(a.terms, 1);
    assert.equal(a.flag, null);
    assert.match(a.basis, /term 1 month × 730 h \(a month: 8,760 h \/ 12\) = 730 h, window 720 h/);
    assert.match(
      a.basis,
      /the last 10 h of the term\(s\) lie beyond the window \(1\.4 % of a term.*\$220, committed beyond/,
    );
    // charge_to_window: the window pays the whole term, the $220 as idle capacity, also stated
    const b = commitmentCharge({ ...c, mode: 'charge_to_window' }, 720);
    close(b.proRataUsd + b.extraUsd, 16_060);
    assert.equal(b.beyondWindowUsd, 0);
    assert.equal(b.flag, null);
    assert.match(b.basis, /\$220, charged here as idle capacity/);
  });

  it('past 2 % of the term the part beyond the window is flagged, with the month length', () => {
    // 700 h window, 1-month term: 730 − 700 = 30 h = 4.1 % of the term → flagged
    // 2 × 11 × 730 = $16,060 for the term; the window 2 × 11 × 700 = $15,400; $660 beyond it
    const a = commitmentCharge(
      { usdPerUnitHour: 10, units: 2, termMonths: 1, upfrontUsd: 1460, mode: 'amortize' },
      700,
    );
    close(a.beyondWindowUsd, 660);
    assert.match(
      a.flag!,
      /1 term\(s\), each 1 month × 730 h \(a month: 8,760 h \/ 12\) = 730 h, cost \$16,060/,
    );
    assert.match(a.flag!, /the other \$660 \(30 h\) is committed beyond it/);
  });

  it('a window of exactly one term has nothing beyond it; a half-month term renews twice', () => {
    const one = commitmentCharge(
      { usdPerUnitHour: 10, units: 1, termMonths: 1, upfrontUsd: 0, mode: 'amortize' },
      730,
    );
    close(one.proRataUsd, 7300);
    assert.equal(one.flag, null);
    // term 0.5 month = 365 h; upfront $730 → $10 + 730 / 365 = $12/h; 720 h touch ⌈720/365⌉ = 2 terms
    // = 2 × 365 × 12 = $8,760; pro rata 720 × 12 = $8,640; $120 more with charge_to_window
    const half = commitmentCharge(
      { usdPerUnitHour: 10, units: 1, termMonths: 0.5, upfrontUsd: 730, mode: 'charge_to_window' },
      720,
    );
    assert.equal(half.terms, 2);
    close(half.proRataUsd, 8640);
    close(half.extraUsd, 120);
  });

  it('no term: billed by the hour for the window', () => {
    const h = commitmentCharge(
      { usdPerUnitHour: 4, units: 3, termMonths: null, upfrontUsd: 0, mode: 'amortize' },
      10,
    );
    close(h.proRataUsd, 120);
    assert.equal(h.flag, null);
  });
});

describe('quote ledgers by hand', () => {
  it('per token: cached input at its own price, a minimum spend tops up the bill as idle capacity', () => {
    const l = perTokenQuoteLedger(
      USAGE,
      {
        usdPer1mInput: 0.5,
        usdPer1mOutput: 1.5,
        usdPer1mCachedInput: 0.1,
        cachedInputShare: 0.4,
        minMonthlyUsd: 730,
      },
      NO_SHARED,
      AS_IS,
    );
    // input rate 0.6 × $0.5 + 0.4 × $0.1 = $0.34/1M
    // accepted: 0.9M × 0.34 + 0.18M × 1.5 = 0.306 + 0.27 = $0.576; waste: 0.1M × 0.34 + 0.02M × 1.5 = $0.064
    // minimum $730/month × 1 h / 730 h = $1 → shortfall 1 − 0.64 = $0.36
    close(line(l, 'accelerator'), 0.576);
    close(line(l, 'failed requests & retries'), 0.064);
    close(line(l, 'idle capacity'), 0.36);
    close(l.totalUsd, 1);
    close(sumLines(l), l.totalUsd);
    close(l.usdPer1mAcceptedOutput, (1 / 180_000) * 1e6);
    // each line's basis shows the tokens it charges: accepted on accelerator, the rest as waste
    assert.match(
      basis(l, 'accelerator'),
      /^900,000 input × \$0\.5\/1M .*\+ 180,000 output × \$1\.5\/1M, tokens of accepted requests$/,
    );
    assert.match(
      basis(l, 'failed requests & retries'),
      /^100,000 input × .*\+ 20,000 output × \$1\.5\/1M, billed for requests not accepted$/,
    );
  });

  it('api ledger: the basis shows the tokens each line charges', () => {
    const l = apiLedger(USAGE, { model: 'api', usdPer1mInput: 0.5, usdPer1mOutput: 1.5 }, NO_SHARED, AS_IS);
    // accepted 0.9M × 0.5 + 0.18M × 1.5 = $0.72; waste 0.1M × 0.5 + 0.02M × 1.5 = $0.08
    close(line(l, 'accelerator'), 0.72);
    close(line(l, 'failed requests & retries'), 0.08);
    assert.equal(
      basis(l, 'accelerator'),
      '900,000 input × $0.5/1M + 180,000 output × $1.5/1M, tokens of accepted requests',
    );
    assert.equal(
      basis(l, 'failed requests & retries'),
      '100,000 input × $0.5/1M + 20,000 output × $1.5/1M, billed for requests not accepted',
    );
  });

  it('per token without a cached price bills every input token at the input price', () => {
    const l = perTokenQuoteLedger(
      USAGE,
      {
        usdPer1mInput: 0.5,
        usdPer1mOutput: 1.5,
        usdPer1mCachedInput: null,
        cachedInputShare: 0.4,
        minMonthlyUsd: 0,
      },
      NO_SHARED,
      AS_IS,
    );
    // 0.9M × 0.5 + 0.18M × 1.5 = $0.72 (the api candidate's hand example in ledger.test.ts)
    close(line(l, 'accelerator'), 0.72);
    close(line(l, 'idle capacity'), 0);
  });

  it('managed endpoint: units busy at the mean weighted rate, the rest idle', () => {
    const { ledger: l, utilization } = managedEndpointLedger(
      USAGE,
      {
        units: 1,
        unitTokensPerS: 1000,
        inputWeight: 1,
        outputWeight: 4,
        usdPerUnitHour: 10,
        termMonths: null,
        upfrontUsd: 0,
        mode: 'amortize',
      },
      NO_SHARED,
      AS_IS,
    );
    // weighted tokens: 1M input × 1 + 0.2M output × 4 = 1.8M over 3600 s = 500/s of 1000/s → 50 %
    // capacity 1 unit × $10 × 1 h = $10: busy $5, idle $5; accepted share (0.9M + 0.72M) / 1.8M = 0.9
    close(utilization, 0.5);
    close(line(l, 'accelerator'), 4.5);
    close(line(l, 'failed requests & retries'), 0.5);
    close(line(l, 'idle capacity'), 5);
    close(l.totalUsd, 10);
    // prefill part of the accepted work: 0.9M / 1.62M weighted tokens × $4.5 = $2.5
    close(l.prefillUsd, 2.5);
    close(l.busyInstanceHours + l.idleInstanceHours, l.provisionedInstanceHours);
  });

  it('units that cannot carry the mean are a sizing bug, not 100 % utilization', () => {
    // the same traffic: 500 weighted tokens/s on 1 unit of 400/s would be 125 % busy
    const sizing = {
      units: 1,
      unitTokensPerS: 400,
      inputWeight: 1,
      outputWeight: 4,
      usdPerUnitHour: 10,
      termMonths: null,
      upfrontUsd: 0,
      mode: 'amortize',
    } as const;
    assert.throws(() => managedEndpointLedger(USAGE, sizing, NO_SHARED, AS_IS), /cannot carry the mean 500/);
    // 2 units of 400/s: 500 / 800 = 62.5 % busy
    close(managedEndpointLedger(USAGE, { ...sizing, units: 2 }, NO_SHARED, AS_IS).utilization, 0.625);
  });

  it('the peak: a sliding window over arrivals, weighted', () => {
    // arrivals at 0, 30 and 61 s, input × 1 + output × 4: 100 + 10 × 4 = 140, 200, 50 + 50 × 4 = 250
    const a = arrivals([
      [0, 100, 10],
      [30, 200, 0],
      [61, 50, 50],
    ]);
    // span 61 s; the 60 s windows inside it start at an arrival up to 61 − 60 = 1 s, or are the last:
    // [0, 60] holds 140 + 200 = 340; the last, [1, 61], holds 200 + 250 = 450 → 450 / 60 = 7.5/s.
    // Buckets fixed from t = 0 would cut the burst at 60 s ([0, 60) 340, [60, 120) 250): 5.67/s.
    const p = peakWeightedRate(a, 61, 60, 1, 4);
    close(p.tokensPerS, 450 / 60);
    assert.equal(p.startS, 1);
    assert.equal(p.windowS, 60);
    // units: ⌈7.5 / 1⌉ = 8; the mean (140 + 200 + 250) / 61 = 9.67 → ⌈9.67⌉ = 10 sets them
    const mean = 590 / 61;
    assert.deepEqual(unitsNeeded(p.tokensPerS, 0, 1, 1), { units: 8, forPeak: 8, forMean: 0 });
    assert.deepEqual(unitsNeeded(p.tokensPerS, mean, 1, 1), { units: 10, forPeak: 8, forMean: 10 });
    assert.equal(unitsNeeded(p.tokensPerS, mean, 1, 12).units, 12); // the minimum
    assert.equal(unitsNeeded(6, 6, 2, 1).units, 3); // exactly 3, not 4
  });

  it('the peak of a trace shorter than the interval is its mean, not its tokens over the interval', () => {
    // 4 requests of 1,000 + 200 tokens at 0, 10, 20, 30 s: 4,800 weighted tokens over the 30 s span
    // = 160/s. Over a 60 s interval that would be 80/s, half the mean.
    const a = arrivals([
      [0, 1000, 200],
      [10, 1000, 200],
      [20, 1000, 200],
      [30, 1000, 200],
    ]);
    const p = peakWeightedRate(a, 30, 60, 1, 1);
    close(p.tokensPerS, 160);
    assert.equal(p.windowS, 30);
    assert.equal(p.startS, 0);
    // a request at the very end is not divided by time the trace does not cover: span 120.5 s, the
    // windows start at 0 ([0, 60]: 1,200 + 1,200 = 2,400) and 60 ([60, 120]: 1,200), and the last is
    // [60.5, 120.5]: 6,000 → 6,000 / 60 = 100/s. (A last bucket [120, 180) divided by the 0.5 s of it
    // the trace covers would make one request 12,000/s.)
    const b = arrivals([
      [0, 1000, 200],
      [60, 1000, 200],
      [120.5, 5000, 1000],
    ]);
    const q = peakWeightedRate(b, 120.5, 60, 1, 1);
    close(q.tokensPerS, 100);
    assert.equal(q.startS, 60.5);
  });
});

describe('vendor-stated latency against the SLO', () => {
  const slo = { ttft_p50_s: 1, ttft_p95_s: 2, attainment: 0.99 };
  it('a stated percentile is compared with the limit at that percentile', () => {
    // vendor p95 1.5 s vs the p95 limit 2 s: met (the stricter p50 limit is not its percentile)
    const c = checkVendorLatency(slo, 'ttft', 1.5, 'p95');
    assert.equal(c.met, true);
    assert.deepEqual(c.comparedWith, { percentile: 'p95', limitS: 2 });
    assert.match(
      c.text,
      /TTFT 1\.5 s \(vendor p95\) vs the SLO's TTFT p95 limit 2 s \(the same percentile\): within/,
    );
  });

  it('an unstated percentile is taken as p50, compared with the strictest limit at p50 or above', () => {
    const c = checkVendorLatency(slo, 'ttft', 1.5, undefined);
    assert.equal(c.met, false);
    assert.deepEqual(c.comparedWith, { percentile: 'p50', limitS: 1 });
    assert.match(c.text, /percentile not stated: taken as typical, p50/);
    // no p50 limit: a median over the p95 limit means the p95 is missed; under it, assumed met
    const tail = { tpot_p95_s: 0.05, tpot_p99_s: 0.04, attainment: 0.99 };
    const d = checkVendorLatency(tail, 'tpot', 0.045, undefined);
    assert.deepEqual(d.comparedWith, { percentile: 'p99', limitS: 0.04 });
    assert.equal(d.met, false);
    assert.equal(checkVendorLatency(tail, 'tpot', 0.03, undefined).met, true);
  });

  it('only lower limits: met when under them, taken as NOT met (and said) when over', () => {
    assert.equal(checkVendorLatency(slo, 'ttft', 0.9, 'p99').met, true);
    const over = checkVendorLatency(slo, 'ttft', 1.5, 'p99');
    assert.equal(over.met, false);
    assert.deepEqual(over.comparedWith, { percentile: 'p50', limitS: 1 });
    assert.match(over.text, /no limit at p99 or above.*not known, taken as NOT met/);
    const none = checkVendorLatency(slo, 'tpot', 0.1, 'p50');
    assert.equal(none.met, true);
    assert.equal(none.comparedWith, null);
  });
});

const dir = mkdtempSync(join(tmpdir(), 'pertoken-quote-'));
const write = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('quote files', () => {
  it('the shipped examples load', async () => {
    for (const f of [
      'cloudflare-llama70b-per-token.yaml',
      'aws-trn2-committed-12mo.yaml',
      'managed-endpoint-ptu-style.yaml',
    ]) {
      const q = await loadQuote(join(repoRoot, 'quotes', f));
      assert.ok(q.quote.source.length > 0);
      if (q.quote.evidence !== 'vendor-reported') assert.match(q.quote.notes ?? '', /[Ii]llustrative/);
    }
  });

  it('a bad field names file:line:col, the path and what was expected', async () => {
    const f = write(
      'bad.yaml',
      'vendor: V\nname: q\ndate: "2026-01-01"\nsource: s\nevidence: estimated\noffer:\n  kind: committed_capacity\n  instance: aws/p5.48xlarge\n  usd_per_hour: cheap\n  term_months: 12\n',
    );
    await assert.rejects(loadQuote(f), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(e.message, /bad\.yaml:9:17: offer\.usd_per_hour: expected \$\/hour ≥ 0, found "cheap"/);
      return true;
    });
    const g = write(
      'kind.yaml',
      'vendor: V\nname: q\ndate: d\nsource: s\nevidence: estimated\noffer: { kind: spot }\n',
    );
    await assert.rejects(loadQuote(g), /kind\.yaml:6:\d+: offer(\.kind)?: .*per_token/);
    const h = write(
      'both.yaml',
      'vendor: V\nname: q\ndate: d\nsource: s\nevidence: guess\noffer:\n  kind: managed_endpoint\n  usd_per_unit_hour: 1\n',
    );
    await assert.rejects(loadQuote(h), (e: unknown) => {
      const m = (e as Error).message;
      assert.match(
        m,
        /both\.yaml:5:11: evidence: expected one of "measured", "vendor-reported", "estimated"/,
      );
      assert.match(
        m,
        /offer\.unit_tokens_per_s: expected exactly one of `unit_tokens_per_s` or `unit_tokens_per_min`/,
      );
      return true;
    });
  });
});

function smallScenario(quotes: string[]): string {
  const trace = write(
    'q.csv',
    'arrival_s,prompt_tokens,output_tokens\n' +
      Array.from({ length: 60 }, (_, i) => `${i * 2},${500 + (i % 5) * 100},${50 + (i % 3) * 20}`).join(
        '\n',
      ) +
      '\n',
  );
  return write(
    `small-${quotes.length}.yaml`,
    `name: small
workload:
  trace: { path: ${trace} }
window: { days: 30, mapping: repeat }
slo: { ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.9 }
model: llama-3.1-8b
candidates:
  - name: h100
    instance: aws/p5.48xlarge
    replicas: 1
quotes: [${quotes.join(', ')}]
`,
  );
}

describe('quotes as candidates', () => {
  const committed = write(
    'committed.yaml',
    `vendor: Test cloud
name: p5-commit
date: "2026-01-01"
source: test offer
evidence: estimated
offer:
  kind: committed_capacity
  instance: aws/p5.48xlarge
  usd_per_hour: 40
  units: 2
  term_months: 12
  parallelism: { tp: 8 }
  replicas: 1
`,
  );
  const perToken = write(
    'token.yaml',
    `vendor: Test API
name: api-quote
date: "2026-01-01"
source: test price list
evidence: vendor-reported
offer: { kind: per_token, usd_per_1m_input: 0.2, usd_per_1m_output: 0.6, min_monthly_usd: 100 }
`,
  );
  const managed = write(
    'managed.yaml',
    `vendor: Test managed
name: units-quote
date: "2026-01-01"
source: test offer
evidence: estimated
offer:
  kind: managed_endpoint
  usd_per_unit_hour: 2
  unit_tokens_per_s: 100
  min_units: 1
  ttft_s: 3
`,
  );

  it('compare costs the scenario’s quotes: lines add up, take-or-pay on unused units, markers everywhere', async () => {
    const file = smallScenario([basename(committed), basename(perToken)]);
    const r = await compareScenario(file, { quotes: [managed], workers: 1 });
    assert.deepEqual(
      r.candidates.map((c) => c.name),
      ['h100', 'p5-commit', 'api-quote', 'units-quote'],
    );
    for (const c of r.candidates) {
      assert.equal(c.status, 'ok', `${c.name}: ${c.reason}`);
      close(sumLines(c.ledger!), c.ledger!.totalUsd);
    }
    const by = new Map(r.candidates.map((c) => [c.name, c]));
    const commit = by.get('p5-commit')!;
    assert.equal(commit.quote?.kind, 'committed_capacity');
    assert.ok(commit.latency !== null, 'committed capacity is simulated');
    // take-or-pay: 2 units committed for the 720 h window at $40/h, whatever the replica uses
    // (1 replica of 8 chips occupies 1 unit; the other is idle capacity): 2 × 40 × 720 = $57,600
    const l = commit.ledger!;
    close(
      line(l, 'accelerator') + line(l, 'failed requests & retries') + line(l, 'idle capacity'),
      2 * 40 * 720,
      1e-9,
    );
    close(l.provisionedInstanceHours, 2 * 720);
    assert.match(commit.warnings.join('\n'), /commitment beyond the window/);
    assert.match(commit.assumptions.join('\n'), /pro-rata share/);
    const api = by.get('api-quote')!;
    assert.equal(api.kind, 'api');
    assert.equal(api.slo?.assumed, true);
    const units = by.get('units-quote')!;
    assert.equal(units.kind, 'managed');
    assert.ok((units.replicas ?? 0) >= 1);
    assert.equal(units.slo?.met, false, 'vendor TTFT 3 s misses the 2 s SLO');
    assert.match(compareText(r), /p5-commit \[quote\]/);
    assert.match(compareText(r), /quote +Test cloud "p5-commit" of 2026-01-01 \(estimated\)/);
    assert.match(compareText(r), /NOT MET \(vendor figures\)/);
    assert.match(compareMarkdown(r), /- quote: Test API "api-quote"/);
    const csv = compareCsv(r).trim().split('\n');
    assert.match(csv[0]!, /,quote_vendor,quote_kind,quote_date,quote_source$/);
    assert.ok(
      csv.some(
        (row) =>
          row.includes('quote:managed_endpoint') &&
          row.endsWith(',Test managed,managed_endpoint,2026-01-01,test offer'),
      ),
    );
  });

  it('pertoken quote runs only the quotes, in every format; a clash of names is an error', () => {
    const file = smallScenario([]);
    const r = runCli(['quote', perToken, managed, '--scenario', file, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { candidates: { name: string; quote: { vendor: string } | null }[] };
    assert.deepEqual(
      j.candidates.map((c) => [c.name, c.quote?.vendor]),
      [
        ['api-quote', 'Test API'],
        ['units-quote', 'Test managed'],
      ],
    );
    const clash = write(
      'clash.yaml',
      'vendor: V\nname: h100\ndate: d\nsource: s\nevidence: estimated\noffer: { kind: per_token, usd_per_1m_input: 1, usd_per_1m_output: 1 }\n',
    );
    const e = runCli(['compare', file, '--quote', clash, '--quiet']);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /clash\.yaml:2:7: name: expected a name no scenario candidate has/);
    const none = runCli(['quote', perToken]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /expected --scenario FILE/);
  });

  it('a managed endpoint on a trace shorter than its interval: units carry the mean; a stated p95 meets the p95 limit', () => {
    // 300 requests of 1,000 + 200 tokens, one every 0.1 s: 300 × 1,200 = 360,000 weighted tokens over
    // the 29.9 s span = 12,040.13/s. The peak over min(60 s, 29.9 s) is the whole trace: the same.
    // units ⌈12,040.13 / 4,000⌉ = ⌈3.01⌉ = 4 (the 60 s interval would have said 360,000 / 60 = 6,000/s,
    // 2 units, 150 % busy); utilization 12,040.13 / 16,000 = 75.25 %.
    // 1-month term, $2,920 upfront: $20 + 2,920 / (4 units × 730 h) = $21 per unit-hour; the 720 h
    // window's pro-rata share 4 × $21 × 720 = $60,480; the other 10 h (1.4 % of the term) not flagged.
    const trace = write(
      'short.csv',
      'arrival_s,prompt_tokens,output_tokens\n' +
        Array.from({ length: 300 }, (_, i) => `${(i / 10).toFixed(1)},1000,200`).join('\n') +
        '\n',
    );
    const scen = write(
      'short.yaml',
      `name: short
workload:
  trace: { path: ${trace} }
window: { days: 30, mapping: repeat }
slo: { ttft_p50_s: 1, ttft_p95_s: 2, tpot_p95_s: 0.05, attainment: 0.99 }
model: llama-3.1-70b
candidates:
  - name: api
    pricing: { model: api, usd_per_1m_input: 1, usd_per_1m_output: 2 }
`,
    );
    const m = write(
      'short-managed.yaml',
      'vendor: X\nname: m1\ndate: d\nsource: s\nevidence: estimated\noffer:\n  kind: managed_endpoint\n  usd_per_unit_hour: 20\n  unit_tokens_per_s: 4000\n  peak_interval_s: 60\n  term_months: 1\n  upfront_usd: 2920\n  ttft_s: 1.5\n  latency_percentile: p95\n',
    );
    const r = runCli(['quote', m, '--scenario', scen, '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const c = (
      JSON.parse(r.stdout) as {
        candidates: {
          replicas: number;
          utilization: number;
          ledger: Ledger;
          slo: { met: boolean };
          price: { usdPerInstanceHour: number | null; notes: string };
          assumptions: string[];
          warnings: string[];
        }[];
      }
    ).candidates[0]!;
    const mean = 360_000 / 29.9;
    assert.equal(c.replicas, 4);
    close(c.utilization, mean / 16_000);
    close(c.ledger.totalUsd, 4 * 21 * 720);
    close(sumLines(c.ledger), c.ledger.totalUsd);
    assert.deepEqual(c.warnings, []);
    assert.match(c.assumptions.join('\n'), /= \$21\/unit-hour; term 1 month × 730 h/);
    // the price shown is the effective rate: $20 + $2,920 upfront / (4 units × 730 h) = $21
    close(c.price.usdPerInstanceHour!, 21);
    assert.match(
      c.price.notes,
      /effective \$21\/unit-hour = \$20\/unit-hour \+ \$2,920 upfront \/ \(4 unit\(s\) × 730 h\)/,
    );
    // the vendor's p95 1.5 s is compared with the p95 limit 2 s, not the stricter p50 limit 1 s
    assert.equal(c.slo.met, true);
    assert.match(c.assumptions.join('\n'), /TTFT 1\.5 s \(vendor p95\) vs the SLO's TTFT p95 limit 2 s/);
    assert.match(
      c.assumptions.join('\n'),
      /the peak over the whole 29\.9 s trace \(shorter than the 60 s interval\)/,
    );
  });

  it('a committed quote shows the rate it charges: the upfront spread over the term', () => {
    // $40/hour + $87,600 upfront / (2 units × 8,760 h) = $40 + $5 = $45 per unit-hour
    const up = write(
      'upfront.yaml',
      'vendor: V\nname: c-up\ndate: d\nsource: s\nevidence: estimated\noffer:\n  kind: committed_capacity\n  instance: aws/p5.48xlarge\n  usd_per_hour: 40\n  units: 2\n  upfront_usd: 87600\n  term_months: 12\n  parallelism: { tp: 8 }\n  replicas: 1\n',
    );
    const r = runCli(['quote', up, '--scenario', smallScenario([]), '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const c = (
      JSON.parse(r.stdout) as {
        candidates: { price: { usdPerInstanceHour: number; notes: string }; ledger: Ledger }[];
      }
    ).candidates[0]!;
    close(c.price.usdPerInstanceHour, 45);
    assert.match(
      c.price.notes,
      /effective \$45\/hour = \$40\/hour \+ \$87,600 upfront \/ \(2 unit\(s\) × 8,760 h\)/,
    );
    // take-or-pay on the window: 2 units × $45 × 720 h = $64,800 over accelerator, waste and idle
    close(
      line(c.ledger, 'accelerator') +
        line(c.ledger, 'failed requests & retries') +
        line(c.ledger, 'idle capacity'),
      2 * 45 * 720,
    );
  });

  it('an unknown instance in a quote names the quote file and suggests keys', async () => {
    const bad = write(
      'unknown.yaml',
      'vendor: V\nname: x\ndate: d\nsource: s\nevidence: estimated\noffer:\n  kind: committed_capacity\n  instance: aws/p5.48xlarg\n  usd_per_hour: 1\n  term_months: 1\n',
    );
    await assert.rejects(compareScenario(smallScenario([]), { quotes: [bad], workers: 1 }), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(
        e.message,
        /unknown\.yaml:8:13: offer\.instance: unknown instance "aws\/p5\.48xlarg"; did you mean "aws\/p5\.48xlarge"/,
      );
      return true;
    });
  });
});

describe('README: Vendor quotes', () => {
  it('the example output is what the command prints', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const block = /```\n\$ npx pertoken quote (.*)\n([\s\S]*?)```/.exec(readme);
    assert.ok(block !== null, 'README has the pertoken quote example');
    const r = runCli(['quote', ...block[1]!.split(' ')], { cwd: repoRoot });
    assert.equal(r.code, 0, r.stderr);
    for (const l of block[2]!.split('\n'))
      if (l.trim() !== '' && l !== '…') assert.ok(r.stdout.includes(`${l}\n`), `not in the output: ${l}`);
  });
});
