import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DatetimeParser } from '../src/workload/readers/datetime.js';
import { lineAt, splitLines } from '../src/workload/readers/lines.js';
import { parseCount, parseDecimal } from '../src/workload/readers/numbers.js';

async function* chunked(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  await Promise.resolve();
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c > at && c < buf.length) {
      yield buf.subarray(at, c);
      at = c;
    }
  }
  yield buf.subarray(at);
}

async function lines(buf: Buffer, cuts: number[] = []): Promise<{ line: string; no: number }[]> {
  const out: { line: string; no: number }[] = [];
  for await (const chunk of splitLines(chunked(buf, cuts), 'f'))
    for (let i = 0; i < chunk.count; i++) out.push({ line: lineAt(chunk, i), no: chunk.firstLine + i });
  return out;
}

/** What a line reader must return: split on LF, strip one CR, no empty last line after a final LF. */
function reference(text: string): string[] {
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts.map((p) => (p.endsWith('\r') ? p.slice(0, -1) : p));
}

describe('line splitter', () => {
  it('CRLF, no trailing newline, BOM, empty lines, line numbers', async () => {
    const got = await lines(Buffer.from('\uFEFFa,b\r\n\r\nc\nd\r\ne', 'utf8'), [3, 4, 9]);
    assert.deepEqual(got, [
      { line: 'a,b', no: 1 },
      { line: '', no: 2 },
      { line: 'c', no: 3 },
      { line: 'd', no: 4 },
      { line: 'e', no: 5 },
    ]);
  });

  it('any chunking of any text gives the same lines (multi-byte characters cut anywhere)', async () => {
    const piece = fc.constantFrom('a', 'é', '€', '😀', ',', '\r', '\n', '\r\n', '1', ' ', '"');
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 60 }),
        fc.array(fc.nat(300), { maxLength: 8 }),
        async (pieces, cuts) => {
          const text = pieces.join('');
          const got = (await lines(Buffer.from(text, 'utf8'), cuts)).map((l) => l.line);
          assert.deepEqual(got, reference(text));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('number parsing', () => {
  const parse = (s: string): number => parseDecimal(s, 0, s.length);
  const count = (s: string): number => parseCount(s, 0, s.length);

  it('plain decimals parse exactly like Number()', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.stringMatching(/^[0-9]{1,20}$/),
        fc.option(fc.stringMatching(/^[0-9]{0,20}$/)),
        (neg, int, frac) => {
          const s = `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}`;
          assert.equal(parse(s), Number(s), s);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = String(x);
        assert.equal(parse(s), Number(s), s);
      }),
    );
  });

  it('anything that is not a plain number is NaN', () => {
    for (const s of [
      '',
      ' ',
      '-',
      '.',
      '1.2.3',
      '0x10',
      'Infinity',
      '1_000',
      '1,5',
      'NaN',
      '--1',
      '1e',
      '12a',
      '+',
    ])
      assert.ok(Number.isNaN(parse(s)), s);
  });

  it('token counts: non-negative integers (12.0 accepted), else NaN', () => {
    assert.equal(count('0'), 0);
    assert.equal(count('4096'), 4096);
    assert.equal(count('12.0'), 12);
    for (const s of ['-1', '1.5', '', 'x', '1e400', '9007199254740993']) assert.ok(Number.isNaN(count(s)), s);
  });
});

describe('datetime parsing', () => {
  it('matches Date.parse on Azure-style and ISO times (to the millisecond)', () => {
    const clock = new DatetimeParser();
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1990-01-01T00:00:00Z'),
          max: new Date('2090-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.constantFrom(' ', 'T'),
        fc.constantFrom('', 'Z', '+00:00', '-07:30', '+0530'),
        fc.integer({ min: 0, max: 9 }),
        (d, sep, zone, digits) => {
          const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
          const frac = digits === 0 ? '' : `.${iso.slice(20, 23).padEnd(digits, '7').slice(0, digits)}`;
          const text = `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}${frac}${zone}`;
          assert.ok(clock.parse(text, 0, text.length), text);
          const expected =
            Date.parse(
              `${iso.slice(0, 10)}T${iso.slice(11, 19)}${frac.slice(0, 4)}${zone === '' ? 'Z' : zone === '+0530' ? '+05:30' : zone}`,
            ) / 1000;
          assert.ok(
            Math.abs(clock.sec + clock.frac - expected) < 1e-3,
            `${text}: ${clock.sec + clock.frac} vs ${expected}`,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects impossible dates and malformed times', () => {
    const clock = new DatetimeParser();
    for (const s of [
      '2023-02-29 00:00:00',
      '2023-04-31 00:00:00',
      '2023-00-10 00:00:00',
      '2023-11-16 24:00:00',
      '2023-11-16 18:60:00',
      '2023-11-16',
      '2023/11/16 18:17:03',
      '2023-11-16 18:17:03.',
      '2023-11-16 18:17:03 +00:00',
    ])
      assert.equal(clock.parse(s, 0, s.length), false, s);
    assert.equal(clock.parse('2024-02-29 00:00:00', 0, 19), true, 'leap day');
  });
});
