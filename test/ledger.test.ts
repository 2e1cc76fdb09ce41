import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  apiLedger,
  capitalRecoveryFactor,
  hardwareLedger,
  ownedUsdPerInstanceHour,
  type Ledger,
  type SharedCosts,
  type Usage,
} from '../src/cost/ledger.js';

const close = (a: number, b: number, tol = 1e-9): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
const line = (l: Ledger, name: string): number => l.lines.find((x) => x.name === name)!.usd;

// One simulated hour: 2 replicas of 4 chips (one 8-chip instance), 1800 s of prefill and 3600 s of
// decode busy time summed over the replicas, 10 % of the tokens computed for requests not accepted.
const USAGE: Usage = {
  spanS: 3600,
  replicas: 2,
  chipsPerReplica: 4,
  prefillBusyS: 1800,
  decodeBusyS: 3600,
  acceptedRequests: 1000,
  acceptedInputTokens: 900_000,
  acceptedOutputTokens: 180_000,
  wastedInputTokens: 100_000,
  wastedOutputTokens: 20_000,
  sessions: 100,
};
const HOURS_PER_MONTH = 730;
const SHARED: SharedCosts = {
  orchestrationUsdPerMonth: 730,
  orchestrationShare: 1,
  egressUsdPerGb: 0.05,
  bytesPerOutputToken: 4,
  hostUsdPerInstanceHour: 0,
  storageUsdPerGbMonth: 0,
  storageBytesPerReplica: 0,
  migration: {
    engineerMonths: 4,
    usdPerEngineerMonth: 30_000,
    amortizeMonths: 24,
    maintenanceUsdPerMonth: 0,
  },
};

test('on-demand, window = trace: every line by hand', () => {
  const l = hardwareLedger(
    USAGE,
    { model: 'on_demand', instanceUsdPerHour: 40, chipsPerInstance: 8 },
    SHARED,
    { days: 30, mapping: 'as-is' },
  );
  // 8 chips → 1 instance for 1 h = $40 provisioned.
  // busy: 5400 replica-s × (4/8 instance per replica) = 2700 instance-s = 0.75 h → $30; idle 0.25 h → $10.
  assert.equal(l.instances, 1);
  close(l.provisionedInstanceHours, 1);
  close(l.busyInstanceHours, 0.75);
  close(line(l, 'idle capacity'), 10);
  // prefill share 1800/5400 = 1/3 → prefill $10, decode $20; 10 % of each is waste → $1 + $2 = $3.
  close(line(l, 'failed requests & retries'), 3);
  close(line(l, 'accelerator'), 27);
  close(l.prefillUsd, 9);
  close(l.decodeUsd, 18);
  // egress: (180k + 20k) output tokens × 4 B = 0.0008 GB × $0.05 = $0.00004
  close(line(l, 'network'), 0.00004);
  // orchestration: $730/month × 1 h / 730 h per month = $1
  close(line(l, 'orchestration'), 1);
  // migration: 4 × $30,000 = $120,000 over 24 months → $5,000/month × (1/730) month = $6.849315…
  close(line(l, 'software engineering'), 5000 / HOURS_PER_MONTH);
  close(line(l, 'power'), 0);
  const total = 27 + 3 + 10 + 0.00004 + 1 + 5000 / HOURS_PER_MONTH;
  close(l.totalUsd, total);
  close(l.usdPer1mAcceptedOutput, (total / 180_000) * 1e6);
  close(l.usdPer1mInput, (total / 900_000) * 1e6);
  close(l.usdPerRequest, total / 1000);
  close(l.usdPerSession!, total / 100);
});

test('repeat mapping: the trace pattern fills a 30-day window (× 720)', () => {
  const l = hardwareLedger(
    USAGE,
    { model: 'reserved', instanceUsdPerHour: 40, chipsPerInstance: 8 },
    SHARED,
    { days: 30, mapping: 'repeat' },
  );
  close(l.scale, 720);
  // take-or-pay: 720 committed instance-hours × $40 = $28,800, whether used or not
  close(l.provisionedInstanceHours, 720);
  close(line(l, 'idle capacity'), 180 * 40);
  close(line(l, 'accelerator') + line(l, 'failed requests & retries'), 540 * 40);
  close(l.acceptedOutputTokens, 180_000 * 720);
  // orchestration: 720 h / 730 h per month × $730 = $720
  close(line(l, 'orchestration'), 720);
});

test('owned hardware: capital recovery with financing, colocation, power from measured utilization', () => {
  // CRF(8 %, 5 y) = 0.08 · 1.08⁵ / (1.08⁵ − 1) = 0.08 × 1.4693281 / 0.4693281 = 0.2504565
  close(capitalRecoveryFactor(0.08, 5), 0.2504564545, 1e-8);
  close(capitalRecoveryFactor(0, 5), 0.2);
  const owned = {
    capexUsdPerInstance: 300_000,
    depreciationYears: 5,
    financingRate: 0,
    idleW: 100,
    tdpW: 700,
    pue: 1.3,
    usdPerKwh: 0.08,
    coloUsdPerKwMonth: 150,
  };
  // $300,000 / 5 y / 8760 h = $6.849315/h; colocation 8 × 700 W = 5.6 kW × $150 = $840/month / 730 h = $1.150685/h
  close(ownedUsdPerInstanceHour(owned, 8), 300_000 / 5 / 8760 + 840 / HOURS_PER_MONTH);
  const l = hardwareLedger(
    USAGE,
    { model: 'owned', instanceUsdPerHour: 0, chipsPerInstance: 8, owned },
    SHARED,
    { days: 30, mapping: 'as-is' },
  );
  // power: utilization 0.75 → 8 × (100 + 0.75 × 600) W = 4.4 kW × PUE 1.3 × $0.08 × 1 h = $0.4576
  close(line(l, 'power'), 0.4576);
  const rate = ownedUsdPerInstanceHour(owned, 8);
  close(line(l, 'idle capacity'), 0.25 * rate);
  close(line(l, 'accelerator'), 0.75 * rate * 0.9);
});

test('spot: interruptions cost the capacity lost to restarts', () => {
  const l = hardwareLedger(
    USAGE,
    {
      model: 'spot',
      instanceUsdPerHour: 20,
      chipsPerInstance: 8,
      spotInterruptionsPerHour: 0.1,
      spotRestartS: 600,
    },
    SHARED,
    { days: 30, mapping: 'as-is' },
  );
  // waste $1.5 (10 % of $15 busy) + $20 × 0.1/h × 600 s / 3600 s = $0.3333…
  close(line(l, 'failed requests & retries'), 1.5 + (20 * 0.1 * 600) / 3600);
});

test('host, storage: charged when the instance price does not include them', () => {
  const shared = {
    ...SHARED,
    hostUsdPerInstanceHour: 2,
    storageUsdPerGbMonth: 0.1,
    storageBytesPerReplica: 140e9,
  };
  const l = hardwareLedger(
    USAGE,
    { model: 'on_demand', instanceUsdPerHour: 40, chipsPerInstance: 8 },
    shared,
    { days: 30, mapping: 'as-is' },
  );
  close(line(l, 'host'), 2);
  // 2 replicas × 140 GB × $0.1/GB-month × (1/730) month
  close(line(l, 'storage & cache'), (280 * 0.1) / HOURS_PER_MONTH);
});

test('a per-token API: accepted tokens priced, the rest is waste, no idle capacity', () => {
  const l = apiLedger(
    USAGE,
    { model: 'api', usdPer1mInput: 0.5, usdPer1mOutput: 1.5 },
    { ...SHARED, orchestrationUsdPerMonth: 0, migration: { ...SHARED.migration, engineerMonths: 0 } },
    { days: 30, mapping: 'as-is' },
  );
  // accepted: 0.9M × $0.5 + 0.18M × $1.5 = $0.45 + $0.27 = $0.72; waste: 0.1M × 0.5 + 0.02M × 1.5 = $0.08
  close(line(l, 'accelerator'), 0.72);
  close(line(l, 'failed requests & retries'), 0.08);
  close(line(l, 'idle capacity'), 0);
  close(l.usdPer1mAcceptedOutput, (0.8 / 180_000) * 1e6);
});

test('conservation (property): lines add up to the total; busy + idle = provisioned', () => {
  fc.assert(
    fc.property(
      fc.record({
        replicas: fc.integer({ min: 1, max: 64 }),
        chipsPerReplica: fc.constantFrom(1, 2, 4, 8),
        busyFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        prefillFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        wasteIn: fc.integer({ min: 0, max: 1e6 }),
        wasteOut: fc.integer({ min: 0, max: 1e6 }),
        price: fc.double({ min: 0.1, max: 200, noNaN: true }),
        days: fc.integer({ min: 1, max: 365 }),
      }),
      (r) => {
        const spanS = 3600;
        const busy = r.busyFrac * spanS * r.replicas;
        const u: Usage = {
          ...USAGE,
          replicas: r.replicas,
          chipsPerReplica: r.chipsPerReplica,
          prefillBusyS: busy * r.prefillFrac,
          decodeBusyS: busy * (1 - r.prefillFrac),
          wastedInputTokens: r.wasteIn,
          wastedOutputTokens: r.wasteOut,
        };
        const l = hardwareLedger(
          u,
          { model: 'on_demand', instanceUsdPerHour: r.price, chipsPerInstance: 8 },
          SHARED,
          { days: r.days, mapping: 'repeat' },
        );
        close(
          l.lines.reduce((s, x) => s + x.usd, 0),
          l.totalUsd,
          1e-9,
        );
        close(l.busyInstanceHours + l.idleInstanceHours, l.provisionedInstanceHours, 1e-9);
        close(
          l.lines.reduce((s, x) => s + x.share, 0),
          1,
          1e-9,
        );
        // the accelerator's provisioned cost is split into accepted work + waste + idle, nothing more or less
        close(
          line(l, 'accelerator') + line(l, 'failed requests & retries') + line(l, 'idle capacity'),
          l.provisionedInstanceHours * r.price,
          1e-9,
        );
      },
    ),
  );
});
