/**
 * Number parsing over a slice of a string, without slicing it: the hot path of every CSV reader.
 * Results are exactly what `Number(text)` gives for plain decimal text; anything else is NaN
 * (empty text, hex, `Infinity`, thousands separators, stray characters).
 */

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const MINUS = 45;
const PLUS = 43;
const SPACE = 32;
const TAB = 9;

/** 10^k, exact for k ≤ 22. */
export const POW10: number[] = Array.from({ length: 23 }, (_, k) => Math.pow(10, k));

function trimRange(s: string, start: number, end: number): [number, number] {
  while (start < end && (s.charCodeAt(start) === SPACE || s.charCodeAt(start) === TAB)) start++;
  while (end > start && (s.charCodeAt(end - 1) === SPACE || s.charCodeAt(end - 1) === TAB)) end--;
  return [start, end];
}

/** Slow path: validate the characters, then let Number() do the correctly rounded conversion. */
function parseSlow(s: string, start: number, end: number): number {
  [start, end] = trimRange(s, start, end);
  if (start >= end) return NaN;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= ZERO && c <= NINE) digits++;
    else if (c !== DOT && c !== MINUS && c !== PLUS && c !== 101 && c !== 69) return NaN; // e E
  }
  if (digits === 0) return NaN;
  return Number(s.slice(start, end));
}

/**
 * A decimal number in s[start, end): `[-+]?digits[.digits]([eE][-+]?digits)?`, surrounding blanks
 * allowed. NaN when the text is anything else.
 */
export function parseDecimal(s: string, start: number, end: number): number {
  let i = start;
  let neg = false;
  let c = s.charCodeAt(i);
  if (c === MINUS) {
    neg = true;
    c = s.charCodeAt(++i);
  }
  let mant = 0;
  let nDigits = 0;
  while (i < end && c >= ZERO && c <= NINE) {
    mant = mant * 10 + (c - ZERO);
    nDigits++;
    c = s.charCodeAt(++i);
  }
  let fracDigits = 0;
  if (i < end && c === DOT) {
    c = s.charCodeAt(++i);
    while (i < end && c >= ZERO && c <= NINE) {
      mant = mant * 10 + (c - ZERO);
      nDigits++;
      fracDigits++;
      c = s.charCodeAt(++i);
    }
  }
  // Fast path: the whole field consumed, ≤ 15 significant digits: mant and 10^k are exact, so one
  // division is correctly rounded, i.e. equal to Number(text).
  if (i === end && nDigits > 0 && nDigits <= 15) {
    const v = fracDigits === 0 ? mant : mant / (POW10[fracDigits] as number);
    return neg ? -v : v;
  }
  return parseSlow(s, start, end);
}

/**
 * A non-negative integer token count in s[start, end): digits, or an integral decimal such as
 * `12.0`. Returns NaN for anything else (negative, fractional, empty, not a number).
 */
export function parseCount(s: string, start: number, end: number): number {
  let v = 0;
  let i = start;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    v = v * 10 + (c - ZERO);
  }
  if (i === end && end > start && end - start <= 15) return v;
  const x = parseDecimal(s, start, end);
  return Number.isInteger(x) && x >= 0 && x <= Number.MAX_SAFE_INTEGER ? x : NaN;
}

/** Two ASCII digits at s[i], or NaN. */
export function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - ZERO;
  const b = s.charCodeAt(i + 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

/** Four ASCII digits at s[i], or NaN. */
export function digits4(s: string, i: number): number {
  return digits2(s, i) * 100 + digits2(s, i + 2);
}
