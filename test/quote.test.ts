// Vendor quotes: the quote ledger by hand, take-or-pay commitments, errors with file:line:col, and
// quotes as candidates of `compare` / `pertoken quote`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { compareScenario, compareCsv, compareMarkdown, compareText } from '../src/cost/index.js';
import type { Ledger, SharedCosts, Usage } from '../src/cost/ledger.js';
import { peakWeightedRate } from '../src/cost/quote.js';
import {
  commitmentCharge,
  managedEndpointLedger,
  perTokenQuoteLedger,
  unitsForPeak,
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

describe('take-or-pay commitments', () => {
  it('a 1-month term on a 30-day window: pro rata, the other 10 hours flagged', () => {
    // 2 units × $10/h, $1,460 upfront over 730 h → $10 + 1460 / (2 × 730) = $11 per unit-hour.
    // window 720 h: 2 × 11 × 720 = $15,840; the whole term 2 × 11 × 730 = $16,060; $220 beyond it.
    const c = { usdPerUnitHour: 10, units: 2, termMonths: 1, upfrontUsd: 1460, mode: 'amortize' } as const;
    const a = commitmentCharge(c, 720);
    close(a.effectiveUsdPerUnitHour, 11);
    close(a.proRataUsd, 15_840);
    close(a.beyondWindowUsd, 220);
    assert.equal(a.extraUsd, 0);
    assert.equal(a.terms, 1);
    assert.match(a.flag!, /\$220 is committed beyond it/);
    // charge_to_window: the window pays the whole term, the $220 as idle capacity
    const b = commitmentCharge({ ...c, mode: 'charge_to_window' }, 720);
    close(b.proRataUsd + b.extraUsd, 16_060);
    assert.equal(b.beyondWindowUsd, 0);
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

  it('units for the peak: the busiest interval from t = 0, weighted', () => {
    const perSecond = new Map<number, [number, number]>([
      [0, [100, 10]],
      [30, [200, 0]],
      [61, [50, 50]],
    ]);
    // [0, 60): 100 + 10 × 4 + 200 = 340 weighted tokens; [60, 120): 50 + 50 × 4 = 250
    const p = peakWeightedRate(perSecond, 60, 1, 4);
    close(p.tokensPerS, 340 / 60);
    assert.equal(p.startS, 0);
    assert.equal(unitsForPeak(p.tokensPerS, 1, 1), 6); // ⌈5.67⌉
    assert.equal(unitsForPeak(p.tokensPerS, 1, 10), 10); // the minimum
    assert.equal(unitsForPeak(6, 2, 1), 3); // exactly 3, not 4
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
