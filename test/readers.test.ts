import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectFormat, openTrace, readTrace } from '../src/workload/read.js';
import type { TraceRequest } from '../src/workload/types.js';
import { fixture, isNondecreasing, read, sample, sum } from './readers-util.js';

const approx = (actual: number | undefined, expected: number, tol = 1e-6): void => {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) <= tol,
    `expected ${expected} ± ${tol}, got ${actual}`,
  );
};

const first = (reqs: TraceRequest[]): TraceRequest => reqs[0] as TraceRequest;
const last = (reqs: TraceRequest[]): TraceRequest => reqs[reqs.length - 1] as TraceRequest;

function checkStream(reqs: TraceRequest[]): void {
  assert.ok(isNondecreasing(reqs), 'arrivals are nondecreasing');
  reqs.forEach((r, i) => assert.equal(r.id, i));
}

describe('bundled samples: counts and spot values', () => {
  it('azure 2023 code: 8819 rows, CRLF, no trailing newline, mean prompt 2047.8', async () => {
    const { requests, report } = await read(sample('azure-2023-code.sample.csv'));
    assert.equal(report.format, 'azure');
    assert.equal(requests.length, 8819);
    assert.equal(report.rows, 8819);
    assert.equal(report.badRows, 0);
    checkStream(requests);
    assert.deepEqual(first(requests), { id: 0, arrivalS: 0, promptTokens: 4808, outputTokens: 10 });
    approx(requests[1]?.arrivalS, 0.052); // 18:17:04.0319600 − 18:17:03.9799600
    assert.equal(last(requests).promptTokens, 549);
    assert.equal(last(requests).outputTokens, 173);
    approx(last(requests).arrivalS, 3435.948056); // 19:14:19.9280160 − 18:17:03.9799600
    const mean = sum(requests, 'promptTokens') / requests.length;
    assert.ok(Math.abs(mean - 2047.8) <= 0.5, `mean prompt ${mean}`);
  });

  it('azure 2023 conv: 19366 rows; 7-digit fractions keep 100 ns', async () => {
    const { requests } = await read(sample('azure-2023-conv.sample.csv'));
    assert.equal(requests.length, 19366);
    checkStream(requests);
    assert.equal(first(requests).promptTokens, 374);
    approx(requests[1]?.arrivalS, 4.314579, 1e-9);
    approx(last(requests).arrivalS, 3501.721937, 1e-9);
    assert.equal(last(requests).promptTokens, 197);
  });

  it('vidur splitwise code: the same 8819 requests as azure code', async () => {
    const [v, a] = await Promise.all([
      read(sample('vidur-splitwise-code.sample.csv')),
      read(sample('azure-2023-code.sample.csv')),
    ]);
    assert.equal(v.report.format, 'vidur');
    assert.equal(v.requests.length, 8819);
    v.requests.forEach((r, i) => {
      const z = a.requests[i] as TraceRequest;
      assert.equal(r.promptTokens, z.promptTokens);
      assert.equal(r.outputTokens, z.outputTokens);
      assert.ok(Math.abs(r.arrivalS - z.arrivalS) < 2e-6, `row ${i}: ${r.arrivalS} vs ${z.arrivalS}`);
    });
  });

  it('sarathi lengths-only: 30731 requests at t = 0 with a warning', async () => {
    const { requests, report } = await read(sample('sarathi-sharegpt-8k-llama2-lengths.sample.csv'));
    assert.equal(report.format, 'vidur');
    assert.equal(requests.length, 30731);
    assert.ok(requests.every((r) => r.arrivalS === 0));
    assert.deepEqual([first(requests).promptTokens, first(requests).outputTokens], [74, 918]);
    assert.deepEqual([last(requests).promptTokens, last(requests).outputTokens], [2285, 363]);
    assert.match(report.warnings.join('\n'), /no arrived_at column.*t = 0/);
  });

  it('splitwise-sim: 3 rows', async () => {
    const { requests, report } = await read(sample('splitwise-sim-test-trace.format-example.csv'));
    assert.equal(report.format, 'splitwise');
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.promptTokens, r.outputTokens]),
      [
        [1, 4096, 32],
        [3, 2048, 8],
        [4, 2048, 16],
      ],
    );
  });

  it('mooncake synthetic: 3993 rows, 512-token blocks, len(hash_ids) = ceil(input/512)', async () => {
    const { requests, report } = await read(sample('mooncake-fast25-synthetic.sample.jsonl'));
    assert.equal(report.format, 'mooncake');
    assert.equal(requests.length, 3993);
    checkStream(requests);
    assert.equal(first(requests).promptTokens, 40160);
    assert.equal(first(requests).outputTokens, 6);
    assert.equal(first(requests).hashIds?.length, 79);
    assert.equal(last(requests).promptTokens, 18440);
    assert.ok(last(requests).arrivalS >= 1022.025 && last(requests).arrivalS < 1025.025);
    for (const r of requests) {
      assert.equal(r.blockSize, 512);
      assert.equal(r.hashIds?.length, Math.ceil(r.promptTokens / 512));
    }
    assert.ok(!report.warnings.some((w) => /hash_ids length/.test(w)));
  });

  it('mooncake conversation: 5000 rows, prefix hashes consistent, buckets spread', async () => {
    const { requests, report } = await read(sample('mooncake-fast25-conversation.sample.jsonl'));
    assert.equal(requests.length, 5000);
    checkStream(requests);
    assert.deepEqual([first(requests).promptTokens, first(requests).outputTokens], [6758, 500]);
    assert.deepEqual(first(requests).hashIds?.slice(0, 3), [0, 1, 2]);
    for (const r of requests) assert.equal(r.hashIds?.length, Math.ceil(r.promptTokens / 512));
    // The sample ends at 1,593,000 ms: its last bucket is spread over [1593, 1596).
    assert.ok(last(requests).arrivalS >= 1593 && last(requests).arrivalS < 1596);
    assert.match(report.warnings.join('\n'), /spread.*seed 0/);
  });

  it('weka flattened CSV: 5124 rows in closed-loop sessions with synthesised prefix hashes', async () => {
    const { requests, report } = await read(sample('weka-claude-code-requests.sample.csv'));
    assert.equal(report.format, 'weka-requests');
    assert.equal(requests.length, 5124);
    checkStream(requests);
    assert.match(
      report.warnings.join('\n'),
      /Poisson process with mean inter-arrival 60 s \(the default\).*--session-interarrival/,
    );
    const sessions = new Map<string, TraceRequest[]>();
    for (const r of requests) {
      assert.ok(r.sessionId !== undefined);
      const list = sessions.get(r.sessionId) ?? [];
      list.push(r);
      sessions.set(r.sessionId, list);
    }
    assert.equal([...sessions.keys()].filter((s) => !s.includes('/')).length, 79);
    assert.ok(sessions.has('trace_0003/agent_001'), 'a sub-agent is its own session');
    const t1 = sessions.get('trace_0001') as TraceRequest[];
    const [r0, r1] = t1 as [TraceRequest, TraceRequest];
    assert.deepEqual(
      [r0.promptTokens, r0.outputTokens, r0.turn, r0.dependsOnPrevious],
      [71175, 169, 0, undefined],
    );
    assert.equal(r0.hashIds?.length, 1112);
    assert.equal(r0.blockSize, 64);
    assert.deepEqual([r1.turn, r1.dependsOnPrevious, r1.gapS], [1, true, 12]);
    assert.equal(r1.hashIds?.length, 1136);
    assert.deepEqual(r1.hashIds?.slice(0, 1112), r0.hashIds, 'prefix_hit_blocks_prev = 1112 blocks shared');
    const fresh = r1.hashIds?.[1112];
    assert.ok(fresh !== undefined && !r0.hashIds?.includes(fresh), 'the rest are fresh');
    assert.equal(r1.arrivalS - r0.arrivalS, 19);
    for (const list of sessions.values())
      list.forEach((r, i) => {
        assert.equal(r.dependsOnPrevious === true, i > 0);
        if (i > 0) assert.ok(r.gapS !== undefined && r.gapS >= 0);
      });
    const sub = sessions.get('trace_0003/agent_001') as TraceRequest[];
    assert.equal(sub[0]?.kind, 'Explore');
    assert.equal(sub[0]?.model, 'claude-haiku-4-5-20251001');
  });

  it('weka flattened CSV: session placement is seeded and scaled by sessionInterarrivalS', async () => {
    const starts = async (opts: { seed?: number; sessionInterarrivalS?: number }): Promise<number[]> => {
      const { requests } = await read(sample('weka-claude-code-requests.sample.csv'), opts);
      return requests
        .filter((r) => r.turn === 0 && !(r.sessionId ?? '').includes('/'))
        .map((r) => r.arrivalS);
    };
    const a = await starts({ seed: 7 });
    assert.deepEqual(await starts({ seed: 7 }), a);
    assert.notDeepEqual(await starts({ seed: 8 }), a);
    const wide = await starts({ seed: 7, sessionInterarrivalS: 600 });
    const span = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
    assert.ok(span(wide) > 5 * span(a), `${span(wide)} vs ${span(a)}`);
  });

  it('weka session JSON with a sub-agent: 123 requests, sub-agent times offset by its start', async () => {
    const { requests, report } = await read(sample('weka-claude-code-trace_0014-subagents.sample.json'));
    assert.equal(report.format, 'weka-session');
    assert.equal(requests.length, 123);
    checkStream(requests);
    const doc = JSON.parse(
      readFileSync(sample('weka-claude-code-trace_0014-subagents.sample.json'), 'utf8'),
    ) as {
      requests: { t: number; type: string; requests?: { t: number }[] }[];
    };
    const subEntry = doc.requests.find((r) => r.type === 'subagent');
    const sub = requests.filter((r) => r.sessionId === 'trace_0014/agent_001');
    assert.equal(sub.length, 2);
    approx(sub[0]?.arrivalS, (subEntry?.t ?? NaN) + (subEntry?.requests?.[0]?.t ?? NaN));
    assert.equal(sub[0]?.dependsOnPrevious, undefined);
    assert.equal(sub[1]?.dependsOnPrevious, true);
    assert.equal(sub[0]?.kind, 'Explore');
    const main = requests.filter((r) => r.sessionId === 'trace_0014');
    assert.equal(main.length, 121);
    assert.deepEqual([main[1]?.dependsOnPrevious, main[1]?.gapS, main[1]?.turn], [true, 6, 1]);
    // Local hash ids (1, 2, 3 …) are remapped, consistently across requests and sessions.
    assert.ok(!main[0]?.hashIds?.includes(1));
    assert.deepEqual(main[1]?.hashIds?.slice(0, 5), main[0]?.hashIds?.slice(0, 5));
    assert.match(report.warnings.join('\n'), /remapped/);
  });

  it('swe-agent calls: 6326 rows, sessions run/instance, gaps = request − previous response', async () => {
    const { requests, report } = await read(sample('swe-agent-mini-deepseek-calls.sample.csv'));
    assert.equal(report.format, 'agent-calls');
    assert.equal(requests.length, 6326);
    checkStream(requests);
    const s = requests.filter((r) => r.sessionId === 'deepseek_chat_dev/marshmallow-code__marshmallow-1343');
    const [c0, c1] = s as [TraceRequest, TraceRequest];
    assert.deepEqual(
      [c0.turn, c0.promptTokens, c0.outputTokens, c0.cachedPromptTokens, c0.dependsOnPrevious],
      [0, 2036, 77, 320, undefined],
    );
    assert.equal(c1.turn, 1);
    assert.equal(c1.dependsOnPrevious, true);
    approx(c1.gapS, 1775784986.993 - 1775784986.679, 1e-6);
    approx(c1.arrivalS - c0.arrivalS, 1775784986.993 - (1775784986 - 1.972), 2e-3);
    assert.equal(new Set(requests.map((r) => r.sessionId)).size, 79);
    assert.match(report.warnings.join('\n'), /79 call\(s\) without request_ts.*server_created_ts − 1\.972 s/);
    assert.equal(first(requests).arrivalS, 0);
  });

  it('tracelab: 19 rounds, arrival = first event, gap = from the previous round’s last event', async () => {
    const { requests, report } = await read(sample('tracelab-example-session.sample.jsonl'));
    assert.equal(report.format, 'tracelab');
    assert.equal(requests.length, 19);
    checkStream(requests);
    const claude = requests.filter((r) => r.sessionId?.startsWith('claude:'));
    assert.equal(claude.length, 10);
    const [r0, r1] = claude as [TraceRequest, TraceRequest];
    assert.deepEqual(
      [r0.promptTokens, r0.cachedPromptTokens, r0.outputTokens, r0.model],
      [32272, 27217, 931, 'claude-opus-4-8'],
    );
    approx(r1.gapS, 0.049, 1e-9); // 05:40:31.696Z − 05:40:31.647Z
    approx(r1.arrivalS - r0.arrivalS, 11.545, 1e-9); // 05:40:31.696Z − 05:40:20.151Z
    assert.equal(r1.dependsOnPrevious, true);
    assert.equal(first(requests).sessionId?.startsWith('codex:'), true, 'the codex session is earlier');
  });
});

describe('gzip', () => {
  for (const name of [
    'azure-2023-code.sample.csv',
    'mooncake-fast25-conversation.sample.jsonl',
    'weka-claude-code-trace_0012.sample.json',
  ]) {
    it(`${name}.gz reads identically`, async () => {
      const plain = await read(sample(name));
      const gz = await read(fixture(`${name}.gz`, gzipSync(readFileSync(sample(name)))));
      assert.deepEqual(gz.requests, plain.requests);
      assert.equal(gz.report.format, plain.report.format);
    });
  }

  it('is recognised by its magic bytes without a .gz name', async () => {
    const path = fixture(
      'trace.csv',
      gzipSync(readFileSync(sample('splitwise-sim-test-trace.format-example.csv'))),
    );
    const { requests } = await read(path);
    assert.equal(requests.length, 3);
  });
});

describe('mooncake bucket spreading', () => {
  const path = sample('mooncake-fast25-conversation.sample.jsonl');
  it('is deterministic for a seed and differs across seeds', async () => {
    const a = (await read(path, { seed: 1 })).requests.map((r) => r.arrivalS);
    const b = (await read(path, { seed: 1 })).requests.map((r) => r.arrivalS);
    const c = (await read(path, { seed: 2 })).requests.map((r) => r.arrivalS);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('keeps each request in [t, t + min(3 s, next timestamp − t)) and file order', async () => {
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    const ts = lines.map((l) => (JSON.parse(l) as { timestamp: number }).timestamp / 1000);
    const { requests } = await read(path, { seed: 3 });
    const distinct = [...new Set(ts)];
    requests.forEach((r, i) => {
      const t = ts[i] as number;
      const next = distinct[distinct.indexOf(t) + 1] ?? Infinity;
      assert.ok(
        r.arrivalS >= t && r.arrivalS < Math.min(t + 3, next),
        `row ${i}: ${r.arrivalS} not in bucket ${t}`,
      );
      assert.equal(r.promptTokens, (JSON.parse(lines[i] as string) as { input_length: number }).input_length);
    });
  });

  it('leaves a timestamp held by one request alone', async () => {
    const path2 = fixture(
      'mc.jsonl',
      [
        '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [0]}',
        '{"timestamp": 1000, "input_length": 10, "output_length": 1, "hash_ids": [1]}',
        '{"timestamp": 1000, "input_length": 10, "output_length": 1, "hash_ids": [2]}',
        '{"timestamp": 1500, "input_length": 10, "output_length": 1, "hash_ids": [3]}',
      ].join('\n'),
    );
    const { requests } = await read(path2);
    assert.equal(requests[0]?.arrivalS, 0);
    assert.ok(
      (requests[1]?.arrivalS ?? 0) >= 1 && (requests[2]?.arrivalS ?? 2) < 1.5,
      'spread over [1, 1.5)',
    );
    assert.equal(requests[3]?.arrivalS, 1.5);
  });
});

describe('generic format', () => {
  it('round-trips the synthetic generator’s JSONL', async () => {
    const rows = [
      {
        arrival_s: 0.25,
        prompt_tokens: 1200,
        output_tokens: 80,
        session_id: 's1',
        turn: 0,
        gap_s: null,
        hash_ids: [1, 2, 3],
        block_size: 512,
      },
      {
        arrival_s: 1.0000000001,
        prompt_tokens: 50,
        output_tokens: 0,
        session_id: null,
        turn: null,
        gap_s: null,
        hash_ids: null,
        block_size: null,
      },
      {
        arrival_s: 7.5,
        prompt_tokens: 1900,
        output_tokens: 60,
        session_id: 's1',
        turn: 1,
        gap_s: 3.25,
        hash_ids: [1, 2, 3, 4],
        block_size: 512,
      },
    ];
    const path = fixture('synth.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const { requests, report } = await read(path);
    assert.equal(report.format, 'generic');
    assert.deepEqual(requests, [
      {
        id: 0,
        arrivalS: 0.25,
        promptTokens: 1200,
        outputTokens: 80,
        sessionId: 's1',
        turn: 0,
        hashIds: [1, 2, 3],
        blockSize: 512,
      },
      { id: 1, arrivalS: 1.0000000001, promptTokens: 50, outputTokens: 0 },
      {
        id: 2,
        arrivalS: 7.5,
        promptTokens: 1900,
        outputTokens: 60,
        sessionId: 's1',
        turn: 1,
        gapS: 3.25,
        hashIds: [1, 2, 3, 4],
        blockSize: 512,
        dependsOnPrevious: true,
      },
    ]);
  });

  it('reads CSV with optional columns, hash ids separated by spaces or |, timestamp_ms', async () => {
    const path = fixture(
      'g.csv',
      'timestamp_ms,prompt_tokens,output_tokens,session_id,gap_s,hash_ids,block_size\r\n' +
        '0,100,10,a,,1 2,16\r\n' +
        '1500,120,12,a,0.5,1|2|3,16\r\n' +
        '2000,7,1,,,,\r\n',
    );
    const { requests } = await read(path);
    assert.deepEqual(requests, [
      {
        id: 0,
        arrivalS: 0,
        promptTokens: 100,
        outputTokens: 10,
        sessionId: 'a',
        hashIds: [1, 2],
        blockSize: 16,
      },
      {
        id: 1,
        arrivalS: 1.5,
        promptTokens: 120,
        outputTokens: 12,
        sessionId: 'a',
        gapS: 0.5,
        hashIds: [1, 2, 3],
        blockSize: 16,
        dependsOnPrevious: true,
      },
      { id: 2, arrivalS: 2, promptTokens: 7, outputTokens: 1 },
    ]);
  });

  it('parses numbers exactly like Number() (exponents, long fractions, 12.0 counts)', async () => {
    const path = fixture(
      'n.csv',
      'arrival_s,prompt_tokens,output_tokens\n1e-3,12.0,0\n.5,1,1\n5.8926549999999995,7,3\n',
    );
    const { requests } = await read(path);
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.promptTokens]),
      [
        [0.001, 12],
        [0.5, 1],
        [5.8926549999999995, 7],
      ],
    );
  });
});

describe('burstgpt and bailian (hand-written fixtures in the documented layouts)', () => {
  const burst6 =
    'Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n' +
    '5,ChatGPT,472,18,490,Conversation log\n' +
    '45,ChatGPT,1087,230,1317,Conversation log\n' +
    '118,GPT-4,417,276,693,Conversation log\n' +
    '120,GPT-4,300,0,300,API log\n';

  it('keeps failed requests (Response tokens = 0) as sourceFailed; t = 0 is the first row', async () => {
    const { requests, report } = await read(fixture('b.csv', burst6));
    assert.equal(report.format, 'burstgpt');
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.promptTokens, r.outputTokens, r.model, r.kind, r.sourceFailed]),
      [
        [0, 472, 18, 'ChatGPT', 'Conversation log', undefined],
        [40, 1087, 230, 'ChatGPT', 'Conversation log', undefined],
        [113, 417, 276, 'GPT-4', 'Conversation log', undefined],
        [115, 300, 0, 'GPT-4', 'API log', true],
      ],
    );
    assert.match(report.warnings.join('\n'), /1 request\(s\) with Response tokens = 0 are kept/);
  });

  it('filters by model and kind and reports what was excluded', async () => {
    const path = fixture('b.csv', burst6);
    const byModel = await read(path, { model: 'gpt-4' });
    assert.equal(byModel.requests.length, 2);
    assert.equal(byModel.requests[0]?.arrivalS, 0, 't = 0 is the first kept row');
    assert.match(byModel.report.warnings.join('\n'), /--model gpt-4: excluded 2 of 4 rows/);
    const byKind = await read(path, { kind: 'conversation' });
    assert.equal(byKind.requests.length, 3);
    assert.match(byKind.report.warnings.join('\n'), /--kind conversation: excluded 1 of 4 rows/);
  });

  it('reads the 8-column part-3 layout by column name, with quoted fields', async () => {
    const csv =
      'Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n' +
      '19440110.0,1722ac82,43,GPT-4,906,446,1352,Conversation log\n' +
      '19440161.0,,2,"ChatGPT",36,29,65,"API log"\n';
    const { requests } = await read(fixture('b3.csv', csv));
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.sessionId, r.model, r.promptTokens, r.outputTokens, r.kind]),
      [
        [0, '1722ac82', 'GPT-4', 906, 446, 'Conversation log'],
        [51, undefined, 'ChatGPT', 36, 29, 'API log'],
      ],
    );
  });

  it('bailian: parent links give sessions, 16-token blocks, 0-based turns', async () => {
    const lines = [
      {
        chat_id: 159,
        parent_chat_id: -1,
        timestamp: 61.114,
        input_length: 40,
        output_length: 132,
        type: 'text',
        turn: 1,
        hash_ids: [1089, 1090, 1091],
      },
      {
        chat_id: 160,
        parent_chat_id: -1,
        timestamp: 61.5,
        input_length: 16,
        output_length: 8,
        type: 'search',
        turn: 1,
        hash_ids: [7],
      },
      {
        chat_id: 161,
        parent_chat_id: 159,
        timestamp: 62.5,
        input_length: 48,
        output_length: 80,
        type: 'text',
        turn: 2,
        hash_ids: [1089, 1090, 1091],
      },
      {
        chat_id: 170,
        parent_chat_id: 161,
        timestamp: 70,
        input_length: 50,
        output_length: 8,
        type: 'text',
        turn: 3,
        hash_ids: [1089, 1090, 1091, 5],
      },
    ];
    const { requests, report } = await read(
      fixture('q.jsonl', lines.map((l) => JSON.stringify(l)).join('\n')),
    );
    assert.equal(report.format, 'bailian');
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.sessionId, r.turn, r.kind, r.blockSize, r.dependsOnPrevious]),
      [
        [61.114, '159', 0, 'text', 16, undefined],
        [61.5, '160', 0, 'search', 16, undefined],
        [62.5, '159', 1, 'text', 16, undefined],
        [70, '159', 2, 'text', 16, undefined],
      ],
    );
    assert.match(report.warnings.join('\n'), /2 session\(s\), 2 follow-up turn\(s\).*open loop/);
  });

  it('azure 2024 and 2025 multimodal timestamps (offsets, missing fractions)', async () => {
    const csv =
      'TIMESTAMP,NumImages,ContextTokens,GeneratedTokens\n' +
      '2024-05-10 00:00:00.009930+00:00,1,100,1\n' +
      '2024-05-10 00:00:01+00:00,0,200,2\n' +
      '2024-05-10 02:00:01.5+02:00,3,300,3\n';
    const { requests, report } = await read(fixture('az.csv', csv));
    assert.equal(report.format, 'azure');
    assert.deepEqual(
      requests.map((r) => r.promptTokens),
      [100, 200, 300],
    );
    approx(requests[1]?.arrivalS, 0.99007, 1e-9);
    approx(requests[2]?.arrivalS, 1.49007, 1e-9);
    assert.match(report.warnings.join('\n'), /NumImages/);
  });
});

describe('API', () => {
  it('streams batches of 4096 with ids in order and fills the report while streaming', async () => {
    const stream = await openTrace(sample('azure-2023-conv.sample.csv'));
    assert.equal(stream.format, 'azure');
    const sizes: number[] = [];
    let nextId = 0;
    for await (const batch of stream.batches()) {
      sizes.push(batch.length);
      for (const r of batch) assert.equal(r.id, nextId++);
      assert.equal(stream.report.rows, nextId);
    }
    assert.deepEqual(sizes, [4096, 4096, 4096, 4096, 2982]);
    assert.throws(() => stream.batches(), /only be iterated once/);
  });

  it('stops early without leaking the file (break out of the loop)', async () => {
    const stream = await openTrace(sample('mooncake-fast25-conversation.sample.jsonl'));
    for await (const batch of stream.batches()) {
      assert.ok(batch.length > 0);
      break;
    }
  });

  it('options the format does not use are reported, not silently ignored', async () => {
    const { report } = await readTrace(sample('splitwise-sim-test-trace.format-example.csv'), {
      model: 'GPT-4',
      kind: 'API log',
      sessionInterarrivalS: 30,
    });
    const w = report.warnings.join('\n');
    assert.match(w, /--model is ignored/);
    assert.match(w, /--kind is ignored/);
    assert.match(w, /--session-interarrival is ignored/);
  });

  it('opts.format overrides detection', async () => {
    const { report } = await readTrace(sample('vidur-splitwise-code.sample.csv'), { format: 'vidur' });
    assert.equal(report.format, 'vidur');
  });

  it('detectFormat recognises every header and first line', () => {
    const cases: [string, string, string | undefined][] = [
      ['TIMESTAMP,ContextTokens,GeneratedTokens', 'a.csv', 'azure'],
      ['TIMESTAMP,NumImages,ContextTokens,GeneratedTokens', 'a.csv', 'azure'],
      ['Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type', 'b.csv', 'burstgpt'],
      [
        'Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type',
        'b.csv',
        'burstgpt',
      ],
      ['arrived_at,num_prefill_tokens,num_decode_tokens', 'v.csv', 'vidur'],
      ['num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio', 'v.csv', 'vidur'],
      [
        'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size',
        's.csv',
        'splitwise',
      ],
      [
        'trace_id,agent,subagent_type,req_idx,t_s,type,model,in_tokens,out_tokens,n_blocks',
        'w.csv',
        'weka-requests',
      ],
      [
        'run,instance_id,model,call_idx,request_ts,response_ts,prompt_tokens,completion_tokens',
        'c.csv',
        'agent-calls',
      ],
      ['arrival_s,prompt_tokens,output_tokens', 'g.csv', 'generic'],
      ['timestamp_ms,prompt_tokens,output_tokens,session_id', 'g.csv', 'generic'],
      [
        '{"arrival_s": 0.5, "prompt_tokens": 1, "output_tokens": 2, "session_id": null}',
        'g.jsonl',
        'generic',
      ],
      ['{"timestamp": 0, "input_length": 1, "output_length": 2, "hash_ids": [0]}', 'm.jsonl', 'mooncake'],
      [
        '{"chat_id": 1, "parent_chat_id": -1, "timestamp": 0.0, "input_length": 1, "output_length": 2}',
        'q.jsonl',
        'bailian',
      ],
      ['{"session_id":"x","round_index":0,"input_tokens_total":5,"timing_events":[]}', 't.jsonl', 'tracelab'],
      [
        '{"id":"trace_0001","models":[],"block_size":64,"hash_id_scope":"local","requests":[{"t":0.0',
        'w.json',
        'weka-session',
      ],
      ['{', 'w.json', 'weka-session'],
      ['\uFEFFTIMESTAMP,ContextTokens,GeneratedTokens', 'a.csv', 'azure'],
      ['0,0,0,,0,0', 'servegen.csv', undefined],
      ['{"foo": 1}', 'x.jsonl', undefined],
    ];
    for (const [line, path, want] of cases) assert.equal(detectFormat(line, path), want, line);
  });
});
