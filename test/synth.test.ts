import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import fc from 'fast-check';
import { z } from 'zod';
import { InputError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import type { TraceRequest } from '../src/workload/types.js';
import {
  arrivalProcess,
  diurnalFactor,
  meanTurnsPerSession,
  parseSynthSpec,
  sessionSamplers,
  synthesize,
  synthSpecSchema,
  tokenSampler,
} from '../src/workload/synth/index.js';
import type { ArrivalSpec, DiurnalSpec, SynthSpecInput } from '../src/workload/synth/index.js';
import {
  GENERIC_CSV_HEADER,
  toCsvRow,
  toJsonlLine,
  writeGenericTrace,
  writeGenericTraceFile,
} from '../src/workload/write.js';
import { registerSynth } from '../src/cli/commands/synth.js';

async function collect(input: SynthSpecInput): Promise<TraceRequest[]> {
  const out: TraceRequest[] = [];
  for await (const b of synthesize(parseSynthSpec(input))) for (const r of b) out.push(r);
  return out;
}

class StringSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function jsonlOf(input: SynthSpecInput): Promise<string> {
  const sink = new StringSink();
  await writeGenericTrace(synthesize(parseSynthSpec(input)), sink, 'jsonl');
  return sink.text;
}

function gaps(rs: TraceRequest[]): number[] {
  const g: number[] = [];
  for (let i = 1; i < rs.length; i++) g.push((rs[i]?.arrivalS ?? 0) - (rs[i - 1]?.arrivalS ?? 0));
  return g;
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: number[]): number => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) / m;
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const near = (actual: number, expected: number, relTol: number, what: string): void =>
  assert.ok(
    Math.abs(actual - expected) <= relTol * Math.abs(expected),
    `${what}: ${actual} not within ${relTol * 100}% of ${expected}`,
  );

/** Groups a session stream by session id, turns in order of appearance. */
function bySession(rs: TraceRequest[]): Map<string, TraceRequest[]> {
  const m = new Map<string, TraceRequest[]>();
  for (const r of rs) {
    const id = r.sessionId ?? '';
    let l = m.get(id);
    if (!l) m.set(id, (l = []));
    l.push(r);
  }
  return m;
}

/** Fraction of prompt blocks that are a leading-prefix hit on the session's previous request. */
function prefixReuse(rs: TraceRequest[]): number {
  const last = new Map<string, number[]>();
  let hit = 0;
  let total = 0;
  for (const r of rs) {
    const ids = r.hashIds ?? [];
    const prev = last.get(r.sessionId ?? '');
    let k = 0;
    if (prev) while (k < prev.length && k < ids.length && prev[k] === ids[k]) k++;
    hit += k;
    total += ids.length;
    last.set(r.sessionId ?? '', ids);
  }
  return hit / total;
}

describe('determinism', () => {
  it('same spec and seed give byte-identical output; other seeds differ', async () => {
    for (const preset of ['chat', 'coding-agent', 'rag', 'embeddings'] as const) {
      const a = await jsonlOf({ preset, seed: 7, requests: 3000 });
      const b = await jsonlOf({ preset, seed: 7, requests: 3000 });
      const c = await jsonlOf({ preset, seed: 8, requests: 3000 });
      assert.equal(a, b, preset);
      assert.notEqual(a, c, preset);
      assert.equal(a.split('\n').length - 1, 3000);
    }
  });

  it('gamma with cv = 1 is exactly the Poisson stream', async () => {
    const p = await jsonlOf({ preset: 'chat', seed: 3, requests: 2000, arrivals: { kind: 'poisson' } });
    const g = await jsonlOf({ preset: 'chat', seed: 3, requests: 2000, arrivals: { kind: 'gamma', cv: 1 } });
    assert.equal(p, g);
  });

  it('changing the lengths does not move the arrivals (independent streams)', async () => {
    const a = await collect({ preset: 'chat', seed: 5, requests: 500 });
    const b = await collect({ preset: 'chat', seed: 5, requests: 500, prompt: { dist: 'fixed', value: 10 } });
    assert.deepEqual(
      a.map((r) => r.arrivalS),
      b.map((r) => r.arrivalS),
    );
  });
});

describe('arrivals', () => {
  it('poisson: mean rate and inter-arrival CV ≈ 1', async () => {
    const rs = await collect({ preset: 'chat', rate: 50, duration_s: 2000, seed: 11 });
    near(rs.length, 100_000, 0.02, 'count');
    assert.equal(rs[0]?.arrivalS, 0);
    assert.ok((rs.at(-1)?.arrivalS ?? Infinity) < 2000);
    near(cv(gaps(rs)), 1, 0.02, 'CV');
  });

  for (const target of [0.5, 2, 3]) {
    it(`gamma: inter-arrival CV ${target} within 5%`, () => {
      const proc = arrivalProcess({ kind: 'gamma', cv: target }, 10, new Rng(21), 0);
      const ts: number[] = [];
      for (let i = 0; i < 200_000; i++) ts.push(proc.next() ?? NaN);
      const g = ts.slice(1).map((t, i) => t - (ts[i] ?? 0));
      near(cv(g), target, 0.05, 'CV');
      near(mean(g), 0.1, 0.03, 'mean gap');
    });
  }

  it('diurnal (hourly profile): per-hour counts follow the profile', async () => {
    const hourly = [1, 1, 1, 1, 1, 2, 3, 4, 6, 8, 8, 8, 8, 8, 8, 8, 6, 5, 4, 3, 2, 2, 1, 1];
    const rs = await collect({
      preset: 'chat',
      rate: 4,
      duration_s: 3 * 86400,
      seed: 4,
      arrivals: { kind: 'diurnal', hourly },
    });
    const counts = new Array<number>(24).fill(0);
    for (const r of rs) {
      const h = Math.floor(r.arrivalS / 3600) % 24;
      counts[h] = (counts[h] ?? 0) + 1;
    }
    const meanProfile = mean(hourly);
    hourly.forEach((p, h) => near(counts[h] ?? 0, (3 * 3600 * 4 * p) / meanProfile, 0.08, `hour ${h}`));
    near(rs.length, 4 * 3 * 86400, 0.02, 'daily mean rate');
  });

  it('diurnal (sinusoid): peak/trough ratio and peak hour', async () => {
    const rs = await collect({
      preset: 'chat',
      rate: 4,
      duration_s: 4 * 86400,
      seed: 9,
      arrivals: { kind: 'diurnal', peak_to_trough: 4, peak_hour: 15, start_hour: 6 },
    });
    const counts = new Array<number>(24).fill(0);
    for (const r of rs) {
      const h = Math.floor(6 + r.arrivalS / 3600) % 24;
      counts[h] = (counts[h] ?? 0) + 1;
    }
    const peak = counts.indexOf(Math.max(...counts));
    assert.ok(Math.abs(peak - 15) <= 1, `peak hour ${peak}`);
    // Hour-averaged sinusoid: the ratio of the hours centred on peak and trough.
    const spec: DiurnalSpec = {
      kind: 'diurnal',
      shape: 'sinusoid',
      peakToTrough: 4,
      peakHour: 15,
      startHour: 0,
    };
    near(diurnalFactor(spec, 15 * 3600) / diurnalFactor(spec, 3 * 3600), 4, 1e-9, 'factor ratio');
    near((counts[15] ?? 0) / (counts[3] ?? 1), 4, 0.1, 'count ratio');
  });

  it('batch: everything at t = 0', async () => {
    const rs = await collect({ preset: 'batch' });
    assert.equal(rs.length, 10_000);
    assert.ok(rs.every((r) => r.arrivalS === 0));
    const few = await collect({ preset: 'chat', arrivals: { kind: 'batch' }, requests: 17 });
    assert.equal(few.length, 17);
    assert.ok(few.every((r) => r.arrivalS === 0));
  });

  it('property: arrivals are nondecreasing and start at 0 for any seed, rate and kind', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.double({ min: 0.01, max: 1e4, noNaN: true }),
        fc.constantFrom('poisson', 'gamma', 'diurnal', 'batch'),
        fc.double({ min: 0.05, max: 5, noNaN: true }),
        (seed, rate, kind, burst) => {
          const spec: Exclude<ArrivalSpec, { kind: 'replay' }> =
            kind === 'gamma'
              ? { kind, cv: burst }
              : kind === 'diurnal'
                ? { kind, shape: 'sinusoid', peakToTrough: 1 + burst, peakHour: 3, startHour: 0 }
                : { kind };
          const proc = arrivalProcess(spec, rate, new Rng(seed), 50);
          let prev = proc.next();
          assert.equal(prev, 0);
          for (let i = 0; i < 200; i++) {
            const t = proc.next();
            if (t === undefined) break;
            assert.ok(Number.isFinite(t) && t >= (prev ?? 0));
            prev = t;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('lengths', () => {
  it('lognormal from mean and median: sample mean and median match (wide clip)', () => {
    const spec = parseSynthSpec({
      prompt: { dist: 'lognormal', mean: 1155, median: 1020, min: 1, max: 1e9 },
    });
    assert.equal(spec.prompt.dist, 'lognormal');
    if (spec.prompt.dist !== 'lognormal') return;
    const s = tokenSampler(spec.prompt);
    const rng = new Rng(2);
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) xs.push(s.draw(rng));
    near(mean(xs), 1155, 0.01, 'mean');
    near(median(xs), 1020, 0.01, 'median');
    near(s.mean, 1155, 0.001, 'computed mean');
  });

  it('clipping to [min, max]; the sampler mean accounts for it', () => {
    const s = tokenSampler({ dist: 'lognormal', mu: Math.log(129), sigma: 0.99, min: 1, max: 1000 });
    const rng = new Rng(3);
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) xs.push(s.draw(rng));
    assert.ok(xs.every((x) => x >= 1 && x <= 1000));
    near(mean(xs), s.mean, 0.01, 'clipped mean');
    assert.ok(s.mean < 211);
  });

  it('chat preset: Azure 2023 conversation length statistics', async () => {
    const rs = await collect({ preset: 'chat', requests: 100_000, seed: 12 });
    near(median(rs.map((r) => r.promptTokens)), 1020, 0.02, 'prompt median');
    near(mean(rs.map((r) => r.promptTokens)), 1155, 0.02, 'prompt mean');
    near(median(rs.map((r) => r.outputTokens)), 129, 0.03, 'output median');
    near(mean(rs.map((r) => r.outputTokens)), 201, 0.03, 'output mean (clipped at 1,000)');
    assert.ok(rs.every((r) => r.promptTokens <= 14050 && r.outputTokens <= 1000));
  });

  it('uniform and fixed', async () => {
    const rs = await collect({
      preset: 'chat',
      requests: 20_000,
      prompt: { dist: 'uniform', min: 10, max: 20 },
      output: { dist: 'fixed', value: 7 },
    });
    assert.ok(rs.every((r) => r.promptTokens >= 10 && r.promptTokens <= 20 && r.outputTokens === 7));
    assert.equal(new Set(rs.map((r) => r.promptTokens)).size, 11);
    near(mean(rs.map((r) => r.promptTokens)), 15, 0.01, 'uniform mean');
  });

  it('property: token counts are integers within [min, max]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        (seed, med, sigma, a, b) => {
          const [min, max] = a <= b ? [a, b] : [b, a];
          const s = tokenSampler({ dist: 'lognormal', mu: Math.log(med), sigma, min, max });
          const rng = new Rng(seed);
          for (let i = 0; i < 50; i++) {
            const x = s.draw(rng);
            assert.ok(Number.isInteger(x) && x >= min && x <= max);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('presets', () => {
  it('embeddings: output 0', async () => {
    const rs = await collect({ preset: 'embeddings', requests: 5000 });
    assert.ok(rs.every((r) => r.outputTokens === 0 && r.promptTokens >= 1 && r.promptTokens <= 8192));
  });

  it('rag: long prompts (90% in 4k–16k), short answers', async () => {
    const rs = await collect({ preset: 'rag', requests: 20_000 });
    const inBand = rs.filter((r) => r.promptTokens >= 4000 && r.promptTokens <= 16000).length / rs.length;
    assert.ok(inBand > 0.88 && inBand < 0.92, `in band ${inBand}`);
    assert.ok(median(rs.map((r) => r.outputTokens)) < 200);
  });

  it('preset fields are overridable one at a time', () => {
    const s = parseSynthSpec({ preset: 'chat', prompt: { median: 900 } });
    assert.equal(s.prompt.dist, 'lognormal');
    if (s.prompt.dist === 'lognormal') {
      assert.equal(s.prompt.mu, Math.log(900));
      assert.equal(s.prompt.sigma, Math.sqrt(2 * Math.log(1155 / 900))); // the preset's mean kept
      assert.equal(s.prompt.max, 14050); // kept from the preset
    }
    assert.equal(s.rateReqPerS, 5.53);
    const sg = parseSynthSpec({ preset: 'chat', prompt: { sigma: 1 } });
    if (sg.prompt.dist === 'lognormal')
      assert.deepEqual([sg.prompt.mu, sg.prompt.sigma], [Math.log(1020), 1]);
    const mm = parseSynthSpec({ preset: 'chat', prompt: { mu: 5, sigma: 1 } });
    if (mm.prompt.dist === 'lognormal') assert.deepEqual([mm.prompt.mu, mm.prompt.sigma], [5, 1]);
    const g = parseSynthSpec({ preset: 'coding-agent', sessions: { gap_s: { median: 0.5 } }, rate: 3 });
    assert.equal(g.sessions?.gapS.dist, 'lognormal');
    if (g.sessions?.gapS.dist === 'lognormal') assert.equal(g.sessions.gapS.mu, Math.log(0.5));
    assert.equal(g.sessions?.blockSize, 64);
    assert.equal(g.rateReqPerS, 3);
  });

  it('requests without duration: exactly that many', async () => {
    const rs = await collect({ preset: 'chat', rate: 0.01, requests: 123 });
    assert.equal(rs.length, 123);
  });
});

describe('coding-agent sessions', () => {
  it('invariants: turns, growing prompts, hash-prefix reuse, closed loop', async () => {
    const rs = await collect({ preset: 'coding-agent', rate: 20, duration_s: 900, seed: 3 });
    assert.ok(rs.length > 10_000);
    for (let i = 1; i < rs.length; i++) assert.ok((rs[i]?.arrivalS ?? 0) >= (rs[i - 1]?.arrivalS ?? 0));
    rs.forEach((r, i) => assert.equal(r.id, i));
    const owner = new Map<number, string>();
    for (const [sid, turns] of bySession(rs)) {
      turns.forEach((t, k) => {
        assert.equal(t.turn, k, `${sid} turn numbering`);
        assert.equal(t.blockSize, 64);
        assert.equal(t.hashIds?.length, Math.ceil(t.promptTokens / 64));
        assert.ok(t.promptTokens <= 200_000);
        for (const id of t.hashIds ?? []) {
          const o = owner.get(id);
          if (o === undefined) owner.set(id, sid);
          else assert.equal(o, sid, 'hash ids are not shared across sessions');
        }
        if (k === 0) {
          assert.equal(t.dependsOnPrevious, undefined);
          assert.equal(t.gapS, undefined);
          return;
        }
        const p = turns[k - 1];
        assert.ok(p);
        assert.equal(t.dependsOnPrevious, true);
        assert.ok(t.gapS !== undefined && t.gapS >= 0.1 && t.gapS <= 3600);
        assert.ok(t.arrivalS >= p.arrivalS + (t.gapS ?? 0));
        assert.ok(t.promptTokens >= p.promptTokens + p.outputTokens, `${sid} turn ${k} grows`);
        const full = Math.floor(p.promptTokens / 64);
        assert.deepEqual(t.hashIds?.slice(0, full), p.hashIds?.slice(0, full), `${sid} turn ${k} prefix`);
        if (p.promptTokens % 64 !== 0) assert.notEqual(t.hashIds?.[full], p.hashIds?.[full]);
      });
    }
    const reuse = prefixReuse(rs);
    assert.ok(reuse > 0.8, `prefix reuse ${reuse}`);
  });

  it('request rate: sessions start at rate / mean turns', async () => {
    const spec = parseSynthSpec({ preset: 'coding-agent', rate: 20, duration_s: 3600, seed: 8 });
    const s = spec.sessions;
    assert.ok(s);
    const meanTurns = meanTurnsPerSession(s, sessionSamplers(s, tokenSampler({ dist: 'fixed', value: 300 })));
    const rs: TraceRequest[] = [];
    for await (const b of synthesize(spec)) rs.push(...b);
    const sessions = bySession(rs);
    near(sessions.size, (20 * 3600) / meanTurns, 0.1, 'sessions');
    near(mean([...sessions.values()].map((t) => t.length)), meanTurns, 0.1, 'turns per session');
    near(rs.length, 20 * 3600, 0.15, 'requests');
    const starts = [...sessions.values()].map((t) => t[0]?.arrivalS ?? NaN);
    assert.ok(starts.every((t) => t < 3600));
  });

  it('prompt sizes in the agentic range; shared system-prompt blocks', async () => {
    const rs = await collect({
      preset: 'coding-agent',
      requests: 20_000,
      seed: 5,
      sessions: { shared_prefix_tokens: 640 },
    });
    const p50 = median(rs.map((r) => r.promptTokens));
    assert.ok(p50 > 20_000 && p50 < 100_000, `prompt median ${p50}`);
    for (const r of rs.filter((x) => x.turn === 0)) {
      assert.deepEqual(r.hashIds?.slice(0, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('context cap ends sessions', async () => {
    const rs = await collect({
      preset: 'coding-agent',
      requests: 5000,
      sessions: { max_context_tokens: 30_000, initial_prompt: { dist: 'fixed', value: 20_000 } },
    });
    assert.ok(rs.every((r) => r.promptTokens <= 30_000));
  });
});

describe('spec errors', () => {
  const throwsInput = (input: unknown, message: string | RegExp): void =>
    assert.throws(
      () => parseSynthSpec(input),
      (e: unknown) =>
        e instanceof InputError &&
        (typeof message === 'string' ? e.message === message : message.test(e.message)),
    );

  it('names the field, what was expected and what was found', () => {
    throwsInput(
      { arrivals: { kind: 'gamma', cv: -1 } },
      'synth: arrivals.cv: expected a number > 0, found -1',
    );
    throwsInput({ arrivals: { kind: 'gamma' } }, 'synth: arrivals.cv: expected a number > 0, found nothing');
    throwsInput({ rate: 'fast' }, 'synth: rate: expected a number > 0, found "fast"');
    throwsInput({ preset: 'video' }, /^synth: preset: expected one of chat \| coding-agent/);
    throwsInput(
      { arrivals: { kind: 'poisson', cv: 2 } },
      'synth: arrivals.cv: does not apply to arrivals kind poisson',
    );
    throwsInput({ rat: 1 }, 'synth: spec: unknown key "rat"');
    throwsInput(
      { prompt: { dist: 'lognormal', mean: 100, median: 200 } },
      /prompt\.mean: expected a mean >= the median/,
    );
    throwsInput({ prompt: { dist: 'lognormal', mean: 100, mu: 2 } }, /prompt: expected lognormal parameters/);
    throwsInput(
      { prompt: { dist: 'uniform', min: 10, max: 5 } },
      /prompt\.max: expected an integer >= min \(10\), found 5/,
    );
    throwsInput({ seed: 1.5 }, /seed: expected an integer/);
    throwsInput(
      { arrivals: { kind: 'diurnal', hourly: [1, 2] } },
      /arrivals\.hourly: expected a list of 24 numbers/,
    );
    throwsInput({ arrivals: { kind: 'replay' } }, /arrivals\.trace: expected a trace file/);
    throwsInput(
      { arrivals: { kind: 'replay', trace: 'x.csv' }, prompt: { dist: 'fixed', value: 1 } },
      /prompt: does not apply/,
    );
    throwsInput(
      { preset: 'coding-agent', prompt: { dist: 'fixed', value: 1 } },
      /prompt: does not apply with sessions/,
    );
    throwsInput(
      { preset: 'coding-agent', sessions: { turns: { dist: 'fixed', value: 0 } } },
      /turns\.value: expected an integer >= 1/,
    );
  });

  it('the schema is plain JSON-schema-able zod (snake_case keys)', () => {
    assert.ok(
      synthSpecSchema.safeParse({ preset: 'chat', duration_s: 60, arrivals: { kind: 'gamma', cv: 2 } })
        .success,
    );
    assert.ok(!synthSpecSchema.safeParse({ durationS: 60 }).success);
    const json = JSON.stringify(z.toJSONSchema(synthSpecSchema));
    for (const key of ['duration_s', 'peak_to_trough', 'initial_prompt', 'gap_s'])
      assert.ok(json.includes(`"${key}"`));
  });

  it('CLI: errors name the flag and the text typed', async () => {
    const run = async (...args: string[]): Promise<string> => {
      const program = new Command().exitOverride();
      registerSynth(program);
      try {
        await program.parseAsync(['node', 'pertoken', 'synth', ...args]);
      } catch (e) {
        if (e instanceof InputError) return e.message;
        throw e;
      }
      return '';
    };
    assert.equal(
      await run('--arrivals', 'gamma', '--cv', '-1'),
      'synth: --cv: expected a number > 0, found "-1"',
    );
    assert.equal(await run('--arrivals', 'gamma'), 'synth: --cv: expected a number > 0, found nothing');
    assert.equal(await run('--rate', 'abc'), 'synth: --rate: expected a number > 0, found "abc"');
    assert.equal(
      await run('--prompt-dist', 'lognormal:mean=-5'),
      'synth: --prompt-dist mean: expected a number > 0, found "-5"',
    );
    assert.match(await run('--trace', 'x.csv'), /--trace: only used with --arrivals replay/);
    assert.match(await run('--prompt-dist', 'empirical'), /--trace: expected a trace file/);
  });
});

describe('generic writer', () => {
  const req: TraceRequest = {
    id: 0,
    arrivalS: 1.5,
    promptTokens: 100,
    outputTokens: 0,
    sessionId: 'a,"b"',
    turn: 2,
    gapS: 0.25,
    hashIds: [1, 2, 3],
    blockSize: 64,
    dependsOnPrevious: true,
  };

  it('JSONL keys and number formats', () => {
    assert.equal(
      toJsonlLine(req),
      '{"arrival_s":1.500000,"prompt_tokens":100,"output_tokens":0,"session_id":"a,\\"b\\"","turn":2,"gap_s":0.250000,"hash_ids":[1,2,3],"block_size":64}',
    );
    assert.equal(
      toJsonlLine({ id: 1, arrivalS: 1 / 3, promptTokens: 5, outputTokens: 6 }),
      '{"arrival_s":0.333333,"prompt_tokens":5,"output_tokens":6}',
    );
  });

  it('CSV header, quoting, space-separated hash ids', () => {
    assert.equal(
      GENERIC_CSV_HEADER,
      'arrival_s,prompt_tokens,output_tokens,session_id,turn,gap_s,hash_ids,block_size',
    );
    assert.equal(toCsvRow(req), '1.500000,100,0,"a,""b""",2,0.250000,1 2 3,64');
    assert.equal(toCsvRow({ id: 0, arrivalS: 0, promptTokens: 1, outputTokens: 2 }), '0.000000,1,2,,,,,');
  });

  it('JSONL round trip by JSON.parse', async () => {
    const rs = await collect({ preset: 'coding-agent', requests: 2000, seed: 2 });
    const text = await jsonlOf({ preset: 'coding-agent', requests: 2000, seed: 2 });
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, rs.length);
    lines.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      const r = rs[i];
      assert.ok(r);
      const keys = ['arrival_s', 'prompt_tokens', 'output_tokens', 'session_id', 'turn'];
      if (r.gapS !== undefined) keys.push('gap_s');
      keys.push('hash_ids', 'block_size');
      assert.deepEqual(Object.keys(o), keys);
      assert.ok(Math.abs((o.arrival_s as number) - r.arrivalS) <= 5e-7);
      assert.equal(o.prompt_tokens, r.promptTokens);
      assert.equal(o.output_tokens, r.outputTokens);
      assert.equal(o.session_id, r.sessionId);
      assert.equal(o.turn, r.turn);
      assert.deepEqual(o.hash_ids, r.hashIds);
    });
  });
});

describe('through the reader API', () => {
  const withTmp = async (fn: (dir: string) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'pertoken-synth-'));
    try {
      await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('JSONL and CSV written by synth read back through readTrace', async () => {
    const { readTrace } = await import('../src/workload/read.js');
    await withTmp(async (dir) => {
      const rs = await collect({ preset: 'coding-agent', requests: 1500, seed: 4 });
      for (const ext of ['jsonl', 'csv']) {
        const file = join(dir, `t.${ext}`);
        await writeGenericTraceFile([rs], file);
        const { requests } = await readTrace(file);
        assert.equal(requests.length, rs.length, ext);
        requests.forEach((q, i) => {
          const r = rs[i];
          assert.ok(r);
          assert.ok(Math.abs(q.arrivalS - r.arrivalS) <= 5e-7, `${ext} arrival ${i}`);
          assert.equal(q.promptTokens, r.promptTokens);
          assert.equal(q.outputTokens, r.outputTokens);
          assert.equal(q.sessionId, r.sessionId);
          assert.equal(q.turn, r.turn);
          assert.deepEqual(q.hashIds, r.hashIds);
          assert.equal(q.blockSize, 64);
          assert.equal(q.dependsOnPrevious === true, r.dependsOnPrevious === true, `${ext} closed loop ${i}`);
          if (r.gapS !== undefined) assert.ok(Math.abs((q.gapS ?? NaN) - r.gapS) <= 5e-7);
        });
      }
    });
  });

  it('replay: arrival times divided by the scale, lengths kept; or scaled to a target rate', async () => {
    await withTmp(async (dir) => {
      const file = join(dir, 'src.jsonl');
      const rs = await collect({ preset: 'chat', requests: 3000, seed: 6 });
      await writeGenericTraceFile([rs], file);
      const fast = await collect({ arrivals: { kind: 'replay', trace: file, scale: 2 } });
      assert.equal(fast.length, rs.length);
      fast.forEach((q, i) => {
        const r = rs[i];
        assert.ok(r);
        assert.ok(Math.abs(q.arrivalS - r.arrivalS / 2) <= 5e-7);
        assert.equal(q.promptTokens, r.promptTokens);
        assert.equal(q.outputTokens, r.outputTokens);
        assert.equal(q.id, i);
      });
      const span = rs.at(-1)?.arrivalS ?? 1;
      const targeted = await collect({ arrivals: { kind: 'replay', trace: file }, rate: 100 });
      near((targeted.length - 1) / (targeted.at(-1)?.arrivalS ?? 1), 100, 1e-6, 'target rate');
      const cut = await collect({
        arrivals: { kind: 'replay', trace: file },
        duration_s: span / 2,
        requests: 100,
      });
      assert.equal(cut.length, 100);
    });
  });

  it('empirical: (prompt, output) pairs resampled jointly', async () => {
    await withTmp(async (dir) => {
      const file = join(dir, 'pairs.jsonl');
      const lines: string[] = [];
      for (let i = 0; i < 500; i++) {
        lines.push(JSON.stringify({ arrival_s: i, prompt_tokens: 10 + i, output_tokens: 3 * (10 + i) }));
      }
      await writeFile(file, `${lines.join('\n')}\n`);
      const rs = await collect({
        preset: 'chat',
        requests: 5000,
        prompt: { dist: 'empirical', trace: file },
        output: { dist: 'empirical', trace: file },
      });
      assert.ok(
        rs.every(
          (r) => r.outputTokens === 3 * r.promptTokens && r.promptTokens >= 10 && r.promptTokens < 510,
        ),
      );
      assert.ok(new Set(rs.map((r) => r.promptTokens)).size > 400);
      // Reservoir-capped: still pairs, at most max_samples distinct.
      const capped = await collect({
        preset: 'chat',
        requests: 2000,
        prompt: { dist: 'empirical', trace: file, max_samples: 50 },
        output: { dist: 'empirical', trace: file, max_samples: 50 },
      });
      assert.ok(capped.every((r) => r.outputTokens === 3 * r.promptTokens));
      assert.ok(new Set(capped.map((r) => r.promptTokens)).size <= 50);
    });
  });

  it('CLI writes JSONL/CSV files and is deterministic', async () => {
    await withTmp(async (dir) => {
      const run = async (out: string, ...args: string[]): Promise<string> => {
        const program = new Command().exitOverride();
        registerSynth(program);
        const write = process.stderr.write.bind(process.stderr);
        let err = '';
        const capture = (chunk: string | Uint8Array): boolean => {
          err += chunk.toString();
          return true;
        };
        process.stderr.write = capture;
        try {
          await program.parseAsync(['node', 'pertoken', 'synth', ...args, '--out', out]);
        } finally {
          process.stderr.write = write;
        }
        return err;
      };
      const a = join(dir, 'a.jsonl');
      const b = join(dir, 'b.jsonl');
      const c = join(dir, 'c.csv');
      const args = ['--preset', 'coding-agent', '--rate', '20', '--duration', '120', '--seed', '1'];
      const summary = await run(a, ...args);
      await run(b, ...args);
      await run(c, ...args);
      assert.match(summary, /^synth: \d+ requests, \d+ sessions, [\d.]+ s of arrivals/);
      assert.equal(await readFile(a, 'utf8'), await readFile(b, 'utf8'));
      const csv = await readFile(c, 'utf8');
      assert.ok(csv.startsWith(`${GENERIC_CSV_HEADER}\n0.000000,`));
      assert.equal(csv.split('\n').length, (await readFile(a, 'utf8')).split('\n').length + 1);
    });
  });
});
