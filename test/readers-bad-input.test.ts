import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InputError, TraceRowError } from '../src/util/errors.js';
import { openTrace } from '../src/workload/read.js';
import type { ReadOptions, TraceFormat } from '../src/workload/types.js';
import { fixture, read, sample, tempDir } from './readers-util.js';

/** Reading `path` fails with an InputError whose message matches every pattern. */
async function rejects(
  path: string,
  patterns: RegExp[],
  opts: ReadOptions = {},
  cls: abstract new (...args: never[]) => InputError = InputError,
): Promise<string> {
  let message = '';
  await assert.rejects(read(path, opts), (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    message = (err as Error).message;
    for (const p of patterns) assert.match(message, p);
    return true;
  });
  return message;
}

const AZURE = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';
const GENERIC = 'arrival_s,prompt_tokens,output_tokens\n';

describe('files that cannot be read at all', () => {
  it('a missing file', async () => {
    await rejects(`${tempDir()}/nope.csv`, [/nope\.csv: no such file/]);
  });

  it('an empty file', async () => {
    const path = fixture('empty.csv', '');
    await rejects(path, [new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: empty`)]);
  });

  it('a file of blank lines, and a header with no rows', async () => {
    await rejects(fixture('blank.csv', '\n \r\n\t\n'), [/: empty: only blank lines/]);
    await rejects(fixture('header.csv', AZURE), [/: empty: a header and no data rows/]);
    await rejects(
      fixture(
        'header.csv',
        'trace_id,agent,req_idx,t_s,in_tokens,out_tokens,n_blocks,prefix_hit_blocks_prev,block_size\n',
      ),
      [/: empty: a header and no data rows/],
    );
  });

  it('an unknown format lists the formats and suggests --format', async () => {
    const msg = await rejects(fixture('servegen.csv', '0,0,0,,0,0\n600,0.1,1,Gamma,1,2\n'), [
      /unknown trace format/,
      /--format/,
    ]);
    for (const f of [
      'generic',
      'azure',
      'mooncake',
      'burstgpt',
      'vidur',
      'splitwise',
      'weka-requests',
      'weka-session',
      'agent-calls',
      'tracelab',
      'bailian',
    ])
      assert.ok(msg.includes(f), `lists ${f}`);
  });

  it('a directory, and bad options', async () => {
    await rejects(tempDir(), [/is a directory/]);
    await assert.rejects(
      openTrace(sample('splitwise-sim-test-trace.format-example.csv'), { format: 'csv' as TraceFormat }),
      /format: expected one of/,
    );
    await assert.rejects(
      openTrace(sample('splitwise-sim-test-trace.format-example.csv'), { sessionInterarrivalS: 0 }),
      /session inter-arrival/,
    );
  });

  it('a truncated gzip names the file instead of crashing or reading part of it', async () => {
    const gz = gzipSync(readFileSync(sample('azure-2023-code.sample.csv')));
    const path = fixture('cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    await rejects(path, [/cut\.csv\.gz: truncated or corrupt gzip/]);
  });

  it('a .gz name on a file that is not gzip', async () => {
    await rejects(fixture('plain.csv.gz', `${AZURE}2023-11-16 18:17:03.9799600,1,1\n`), [
      /plain\.csv\.gz: .*gzip/,
    ]);
  });

  it('a 10 MB line is an error naming the line, not an unbounded buffer', async () => {
    const long = 'x'.repeat(10 * 1024 * 1024);
    await rejects(fixture('long.csv', `${GENERIC}0,1,1\n${long}\n1,1,1\n`), [
      /long\.csv:3: line longer than 4 MiB/,
    ]);
    // and with no newline at all, on the first line
    await rejects(
      fixture('long.jsonl', `{"timestamp": 0, "input_length": 1, "output_length": 1, "pad": "${long}"}`),
      [/long\.jsonl:1: line longer than 4 MiB/],
    );
  });
});

describe('header errors (never skipped)', () => {
  it('a missing column names the column and shows the header found', async () => {
    const msg = await rejects(
      fixture('az.csv', 'TIMESTAMP,ContextTokens,Generated\n2023-11-16 18:17:03.9799600,1,1\n'),
      [
        /az\.csv:1: header: expected a column "GeneratedTokens" \(format azure\), found header "TIMESTAMP,ContextTokens,Generated"/,
      ],
      { format: 'azure' },
    );
    assert.ok(!msg.includes('undefined'));
    await rejects(
      fixture('az.csv', 'TIMESTAMP,ContextTokens,Generated\n2023-11-16 18:17:03.9799600,1,1\n'),
      [/header: expected a column/],
      {
        format: 'azure',
        skipBadRows: true,
      },
    );
  });

  it('a format forced on the wrong file reports the first missing column', async () => {
    await rejects(
      sample('azure-2023-code.sample.csv'),
      [/:1: header: expected a column "Model" \(format burstgpt\)/],
      { format: 'burstgpt' },
    );
    await rejects(
      sample('vidur-splitwise-code.sample.csv'),
      [/header: expected a column "arrival_s" or "timestamp_ms"/],
      { format: 'generic' },
    );
  });

  it('every CSV reader checks its required columns', async () => {
    const cases: [TraceFormat, string, RegExp][] = [
      ['vidur', 'arrived_at,num_prefill_tokens\n0,1\n', /"num_decode_tokens"/],
      ['splitwise', 'request_id,arrival_timestamp,prompt_size\n0,1,1\n', /"token_size"/],
      ['burstgpt', 'Timestamp,Model,Request tokens,Log Type\n0,a,1,x\n', /"Response tokens"/],
      ['weka-requests', 'trace_id,agent,req_idx\nt,main,0\n', /"t_s"/],
      [
        'agent-calls',
        'run,instance_id,call_idx,prompt_tokens,completion_tokens\nr,i,0,1,1\n',
        /"request_ts"/,
      ],
      ['generic', 'arrival_s,prompt_tokens\n0,1\n', /"output_tokens"/],
    ];
    for (const [format, csv, pattern] of cases)
      await rejects(fixture(`${format}.csv`, csv), [/:1: header: expected a column/, pattern], { format });
  });
});

describe('row errors: file:line: field: expected …, found …', () => {
  const tokenCases: [string, RegExp][] = [
    ['abc', /:2: ContextTokens: expected a non-negative integer, found "abc"/],
    ['-5', /:2: ContextTokens: expected a non-negative integer, found "-5"/],
    ['NaN', /:2: ContextTokens: expected a non-negative integer, found "NaN"/],
    ['12.5', /:2: ContextTokens: expected a non-negative integer, found "12.5"/],
    ['', /:2: ContextTokens: expected a non-negative integer, found ""/],
    ['1e400', /:2: ContextTokens: expected a non-negative integer, found "1e400"/],
  ];
  for (const [value, pattern] of tokenCases)
    it(`azure token count ${JSON.stringify(value)}`, async () => {
      await rejects(
        fixture('az.csv', `${AZURE}2023-11-16 18:17:03.9799600,${value},3\n`),
        [pattern],
        {},
        TraceRowError,
      );
    });

  it('long values are shown shortened with their length', async () => {
    const msg = await rejects(
      fixture('az.csv', `${AZURE}2023-11-16 18:17:03.9799600,${'9x'.repeat(100)},3\n`),
      [/\(200 chars\)/],
    );
    assert.ok(msg.length < 300, msg);
  });

  it('bad timestamps', async () => {
    for (const ts of [
      '2023-13-16 18:17:03.97',
      '2023-02-30 00:00:00',
      '2023-11-16 25:00:00',
      'yesterday',
      '2023-11-16 18:17:03.',
      '2023-11-16 18:17:03+99:00',
    ])
      await rejects(
        fixture('az.csv', `${AZURE}${ts},1,1\n`),
        [/:2: TIMESTAMP: expected a datetime like/, new RegExp(ts.slice(0, 8))],
        {},
        TraceRowError,
      );
    await rejects(fixture('g.csv', `${GENERIC}soon,1,1\n`), [
      /:2: arrival_s: expected a number, found "soon"/,
    ]);
    await rejects(fixture('g.csv', `${GENERIC}-1,1,1\n`), [
      /:2: arrival_s: expected a number ≥ 0, found "-1"/,
    ]);
    await rejects(fixture('g.csv', `${GENERIC}Infinity,1,1\n`), [
      /:2: arrival_s: expected a number, found "Infinity"/,
    ]);
    await rejects(fixture('m.jsonl', '{"timestamp": "noon", "input_length": 1, "output_length": 1}\n'), [
      /:1: timestamp: expected a number, found "noon"/,
    ]);
  });

  it('a row with the wrong number of fields, and an unclosed quote', async () => {
    await rejects(fixture('az.csv', `${AZURE}2023-11-16 18:17:03.9799600,1\n`), [
      /:2: row: expected 3 comma-separated fields as in the header, found 2/,
    ]);
    await rejects(fixture('az.csv', `${AZURE}2023-11-16 18:17:03.9799600,1,1,9\n`), [
      /:2: row: expected 3 comma-separated fields/,
    ]);
    await rejects(
      fixture(
        'b.csv',
        'Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n1,"GPT-4,2,3,5,API log\n',
      ),
      [/:2: row: expected comma-separated fields \(a quoted field must close on the same line\)/],
    );
  });

  it('JSONL: invalid JSON, a non-object, wrong field types', async () => {
    await rejects(
      fixture(
        'm.jsonl',
        '{"timestamp": 0, "input_length": 1, "output_length": 1}\n{"timestamp": 1, "input_length": \n',
      ),
      [/m\.jsonl:2: row: expected one JSON object per line, found/],
    );
    await rejects(
      fixture('m.jsonl', '{"timestamp": 0, "input_length": 1, "output_length": 1}\n[1, 2]\n'),
      [/:2: row: expected a JSON object/],
      {
        format: 'mooncake',
      },
    );
    await rejects(fixture('m.jsonl', '{"timestamp": 0, "input_length": 1.5, "output_length": 1}\n'), [
      /:1: input_length: expected a non-negative integer, found 1\.5/,
    ]);
    await rejects(
      fixture('m.jsonl', '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": "0 1"}\n'),
      [/:1: hash_ids: expected an array of non-negative integers, found "0 1"/],
    );
    await rejects(
      fixture('m.jsonl', '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [0, -1]}\n'),
      [/hash_ids: expected an array/],
    );
    await rejects(
      fixture('m.jsonl', '{"timestamp": 0, "input_length": 1}\n'),
      [/:1: output_length: expected a non-negative integer, found nothing \(field missing\)/],
      {
        format: 'mooncake',
      },
    );
    await rejects(
      fixture(
        'q.jsonl',
        '{"chat_id": 1, "parent_chat_id": -1, "timestamp": 0, "input_length": -3, "output_length": 1}\n',
      ),
      [/:1: input_length: expected a non-negative integer, found -3/],
    );
  });
});

describe('unsorted timestamps', () => {
  const csv = `${GENERIC}0,1,1\n2,2,2\n1,3,3\n3,4,4\n`;

  it('are an error by default, naming both lines and suggesting --sort', async () => {
    await rejects(fixture('u.csv', csv), [
      /u\.csv:4: arrival: expected ≥ previous arrival 2 s \(line 3\), found 1 s; pass --sort to sort in memory/,
    ]);
  });

  it('with sort: buffered, stable-sorted, with a warning', async () => {
    const { requests, report } = await read(fixture('u.csv', csv), { sort: true });
    assert.deepEqual(
      requests.map((r) => [r.id, r.arrivalS, r.promptTokens]),
      [
        [0, 0, 1],
        [1, 1, 3],
        [2, 2, 2],
        [3, 3, 4],
      ],
    );
    assert.match(report.warnings.join('\n'), /--sort: held all 4 rows in memory.*1 row\(s\) were earlier/);
  });

  it('with sort on an absolute clock: the earliest row becomes t = 0', async () => {
    const az = `${AZURE}2023-11-16 18:17:05.5,1,1\n2023-11-16 18:17:03.5,2,2\n2023-11-16 18:17:04.5,3,3\n`;
    const { requests } = await read(fixture('az.csv', az), { sort: true });
    assert.deepEqual(
      requests.map((r) => [r.arrivalS, r.promptTokens]),
      [
        [0, 2],
        [1, 3],
        [2, 1],
      ],
    );
  });

  it('with skipBadRows: the out-of-order row is counted and reported, not silently dropped', async () => {
    const { requests, report } = await read(fixture('u.csv', csv), { skipBadRows: true });
    assert.equal(requests.length, 3);
    assert.equal(report.badRows, 1);
    assert.match(report.firstBadRows[0] ?? '', /:4: arrival: expected ≥ previous arrival/);
  });
});

describe('skipBadRows', () => {
  it('counts every bad row, keeps the first five messages, and goes on', async () => {
    const rows = ['0,1,1', 'x,1,1', '1,-1,1', '2,1,y', '3,1', '4,1,1', '5,1.5,1', '6,1,1', '7,,1', '8,1,1'];
    const { requests, report } = await read(fixture('s.csv', `${GENERIC}${rows.join('\n')}\n`), {
      skipBadRows: true,
    });
    assert.deepEqual(
      requests.map((r) => r.arrivalS),
      [0, 4, 6, 8],
    );
    assert.deepEqual(
      requests.map((r) => r.id),
      [0, 1, 2, 3],
    );
    assert.equal(report.badRows, 6);
    assert.equal(report.firstBadRows.length, 5);
    assert.match(report.firstBadRows[0] ?? '', /s\.csv:3: arrival_s: expected a number, found "x"/);
    assert.match(
      report.firstBadRows[4] ?? '',
      /s\.csv:8: prompt_tokens: expected a non-negative integer, found "1\.5"/,
    );
    assert.equal(report.rows, 4);
  });

  it('applies to JSONL and to the buffered agentic readers', async () => {
    const jsonl = [
      '{"timestamp": 0, "input_length": 1, "output_length": 1}',
      'not json',
      '{"timestamp": 5, "input_length": 2, "output_length": 1}',
    ];
    const m = await read(fixture('m.jsonl', jsonl.join('\n')), { skipBadRows: true });
    assert.equal(m.requests.length, 2);
    assert.equal(m.report.badRows, 1);
    const tl = readFileSync(sample('tracelab-example-session.sample.jsonl'), 'utf8').split('\n');
    tl[3] = (tl[3] as string).replace(/"timestamp":"[^"]+"/, '"timestamp":"not a time"');
    const t = await read(fixture('t.jsonl', tl.join('\n')), { skipBadRows: true });
    assert.equal(t.requests.length, 18);
    assert.match(
      t.report.firstBadRows[0] ?? '',
      /t\.jsonl:4: timing_events\[0\]\.timestamp: expected an ISO-8601 time/,
    );
  });
});

describe('agentic readers: inconsistent sessions', () => {
  const WEKA =
    'trace_id,agent,subagent_type,req_idx,t_s,type,model,in_tokens,out_tokens,n_blocks,prefix_hit_blocks_prev,prefix_hit_blocks_seen,stop,input_types,output_types,api_time_s,think_time_s,ttft_s,tool_tokens,system_tokens,block_size\n';

  it('weka-requests: a prefix hit longer than the previous request', async () => {
    const csv = `${WEKA}t1,main,,0,0.0,n,m,640,1,10,0,0,,,,1.0,0.0,,0,0,64\nt1,main,,1,5.0,n,m,1280,1,20,11,11,,,,1.0,4.0,,0,0,64\n`;
    await rejects(fixture('w.csv', csv), [
      /w\.csv:3: prefix_hit_blocks_prev: expected ≤ n_blocks \(20\) and ≤ the previous request's blocks \(10\), found 11/,
    ]);
  });

  it('weka-requests: time going backwards within a session', async () => {
    const csv = `${WEKA}t1,main,,0,9.0,n,m,640,1,10,0,0,,,,1.0,0.0,,0,0,64\nt1,main,,1,5.0,n,m,1280,1,20,10,10,,,,1.0,4.0,,0,0,64\n`;
    await rejects(fixture('w.csv', csv), [
      /w\.csv:3: t_s: expected ≥ the previous request of t1 \(9 s, line 2\), found 5 s/,
    ]);
  });

  it('weka-session: invalid JSON, not a session document, a bad request', async () => {
    await rejects(
      fixture('w.json', '{\n  "id": "x",\n  "requests": [,]\n}'),
      [/w\.json(:\d+:\d+)?: not valid JSON/],
      { format: 'weka-session' },
    );
    await rejects(fixture('w.json', '{"0": "{1: 0.5}"}'), [/not a weka-session document.*keys \["0"\]/], {
      format: 'weka-session',
    });
    const doc = {
      id: 'c',
      block_size: 64,
      requests: [
        { t: 0, type: 'n', in: 100, out: 1 },
        { t: 1, type: 'n', in: 'many', out: 1 },
      ],
    };
    await rejects(fixture('w.json', JSON.stringify(doc)), [
      /w\.json:1: requests\[1\]\.in: expected a non-negative integer, found "many"/,
    ]);
    const nested = {
      id: 'c',
      block_size: 64,
      requests: [
        {
          t: 5,
          type: 'subagent',
          agent_id: 'a1',
          requests: [
            { t: 2, in: 1, out: 1 },
            { t: 1, in: 1, out: 1 },
          ],
        },
      ],
    };
    await rejects(fixture('w.json', JSON.stringify(nested)), [
      /requests\[0\]\.requests\[1\]\.t: expected ≥ the previous request's t/,
    ]);
  });

  it('agent-calls: a request sent before the previous response (negative tool time)', async () => {
    const csv =
      'run,instance_id,model,call_idx,request_ts,response_ts,server_created_ts,prompt_tokens,completion_tokens,cached_prompt_tokens\n' +
      'r,i,m,0,,100.0,99,10,1,0\n' +
      'r,i,m,1,99.5,105.0,101,20,1,8\n';
    await rejects(fixture('c.csv', csv), [
      /c\.csv:3: request_ts: expected ≥ the previous call's response_ts 100 \(closed loop\), found 99\.5/,
    ]);
  });

  it('agent-calls: call 0 estimated from server_created_ts (median lag) and capped at response_ts', async () => {
    const csv =
      'run,instance_id,model,call_idx,request_ts,response_ts,server_created_ts,prompt_tokens,completion_tokens,cached_prompt_tokens\n' +
      'r,i,m,0,,100.0,99,10,1,0\n' +
      'r,i,m,1,100.5,105.0,102.5,20,1,8\n' +
      'r,i,m,2,106.0,110.0,108,30,1,16\n' +
      'r,j,m,0,,50.5,51,10,1,0\n';
    const { requests, report } = await read(fixture('c.csv', csv));
    const byKey = new Map(requests.map((r) => [`${r.sessionId}#${r.turn}`, r]));
    // median(102.5 − 100.5, 108 − 106) = 2 → call 0 of r/i at 97; r/j: 51 − 2 = 49 (< response 50.5).
    assert.equal(byKey.get('r/j#0')?.arrivalS, 0);
    assert.equal(byKey.get('r/i#0')?.arrivalS, 48);
    assert.equal(byKey.get('r/i#1')?.gapS, 0.5);
    assert.match(report.warnings.join('\n'), /server_created_ts − 2 s/);
  });

  it('tracelab: no timing events, prefix larger than the prompt', async () => {
    const round = {
      session_id: 's',
      round_index: 0,
      input_tokens_total: 10,
      prefix_tokens: 4,
      newly_append_tokens: 6,
      output_tokens: 1,
      timing_events: [] as unknown[],
    };
    await rejects(
      fixture('t.jsonl', JSON.stringify(round)),
      [/t\.jsonl:1: timing_events: expected at least one timed event, found \[\]/],
      { format: 'tracelab' },
    );
    const big = {
      ...round,
      prefix_tokens: 40,
      timing_events: [{ event_type: 'user_message', timestamp: '2026-01-01T00:00:00Z' }],
    };
    await rejects(
      fixture('t.jsonl', JSON.stringify(big)),
      [/:1: prefix_tokens: expected ≤ input_tokens_total \(10\), found 40/],
      { format: 'tracelab' },
    );
  });
});
