import { digits2, digits4 } from './numbers.js';

/**
 * A hand-written ISO-like datetime parser for the hot path of the Azure readers:
 * `YYYY-MM-DD[ T]hh:mm:ss[.fraction][Z|±hh:mm|±hhmm]` (a naive time is taken as UTC). `Date` is
 * only used to get the epoch day, and only when the date changes from the previous row. The value
 * is kept as whole seconds plus a fraction so that differences keep 100 ns resolution.
 */
export class DatetimeParser {
  /** Whole epoch seconds of the last parse. */
  sec = 0;
  /** Fraction of a second of the last parse, in [0, 1). */
  frac = 0;
  private dayKey = -1;
  private epochDayS = 0;

  /** Parse s[start, end) into `sec` and `frac`; false when the text is not such a datetime. */
  parse(s: string, start: number, end: number): boolean {
    if (end - start < 19) return false;
    const y = digits4(s, start);
    const mo = digits2(s, start + 5);
    const d = digits2(s, start + 8);
    const sep = s.charCodeAt(start + 10);
    const hh = digits2(s, start + 11);
    const mi = digits2(s, start + 14);
    const ss = digits2(s, start + 17);
    if (
      s.charCodeAt(start + 4) !== 45 ||
      s.charCodeAt(start + 7) !== 45 ||
      (sep !== 32 && sep !== 84) ||
      s.charCodeAt(start + 13) !== 58 ||
      s.charCodeAt(start + 16) !== 58 ||
      !(hh < 24 && mi < 60 && ss < 60) // NaN fails too
    )
      return false;
    const key = y * 10000 + mo * 100 + d;
    if (key !== this.dayKey) {
      if (!(mo >= 1 && mo <= 12 && d >= 1)) return false;
      const ms = Date.UTC(y, mo - 1, d);
      // Date.UTC rolls day 31 of a 30-day month over: reject such dates.
      if (new Date(ms).getUTCDate() !== d) return false;
      this.dayKey = key;
      this.epochDayS = ms / 1000;
    }
    let i = start + 19;
    let frac = 0;
    if (i < end && s.charCodeAt(i) === 46) {
      i++;
      let num = 0;
      let scale = 1;
      const from = i;
      while (i < end) {
        const c = s.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        if (scale < 1e15) {
          num = num * 10 + c;
          scale *= 10;
        }
        i++;
      }
      if (i === from) return false;
      frac = num / scale;
    }
    let offsetS = 0;
    if (i < end) {
      const c = s.charCodeAt(i);
      if (c === 90 && i + 1 === end) i++;
      else if (c === 43 || c === 45) {
        const oh = digits2(s, i + 1);
        const colon = s.charCodeAt(i + 3) === 58;
        const om = digits2(s, colon ? i + 4 : i + 3);
        const len = colon ? 6 : 5;
        if (!(oh < 24 && om < 60) || i + len !== end) return false;
        offsetS = (oh * 3600 + om * 60) * (c === 45 ? -1 : 1);
        i = end;
      } else return false;
    }
    if (i !== end) return false;
    this.sec = this.epochDayS + hh * 3600 + mi * 60 + ss - offsetS;
    this.frac = frac;
    return true;
  }
}
