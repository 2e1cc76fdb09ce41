/**
 * Prefix-cache block keys. A key names the content of one full KV block *and everything before it*
 * (block hashes chain, as in vLLM), so two sequences share block j only if they share the whole
 * prefix up to the end of block j. Keys are numbers below 2^53 (Map keys without strings).
 */

const TWO32 = 4294967296;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mix two non-negative integers (each < 2^53) into a 53-bit key. */
export function mix53(a: number, b: number): number {
  const aLo = a >>> 0;
  const aHi = Math.floor(a / TWO32) >>> 0;
  const bLo = b >>> 0;
  const bHi = Math.floor(b / TWO32) >>> 0;
  let h1 = fmix(Math.imul(aLo ^ 0x9e3779b9, 0xcc9e2d51) ^ aHi);
  let h2 = fmix(Math.imul(bLo ^ 0x7f4a7c15, 0x1b873593) ^ bHi ^ h1);
  h1 = fmix(h1 ^ Math.imul(h2, 0x27d4eb2f) ^ aHi);
  h2 = fmix(h2 + h1);
  return (h1 & 0x1fffff) * TWO32 + h2;
}

/**
 * Key of block j under a 53-bit base key: cheaper than mix53 (one mixing round), with the low 32
 * bits well mixed (the prefix cache's hash table indexes by them) and distinct for distinct j.
 */
export function blockKey(base: number, j: number): number {
  return blockKeyParts(base >>> 0, Math.floor(base / TWO32) >>> 0, j);
}

function blockKeyParts(lo: number, hi: number, j: number): number {
  const nlo = fmix(lo ^ Math.imul(j + 1, 0x9e3779b1));
  const nhi = (hi ^ (Math.imul(j, 0x85ebca6b) >>> 11)) & 0x1fffff;
  return nhi * TWO32 + nlo;
}

/** 32-bit FNV-1a of a string. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TRACE_DOMAIN = 0x7472;
const SESSION_DOMAIN = 0x5345;

/**
 * Keys for the engine's full prompt blocks from a trace's hash ids (one id per `traceBlockSize`
 * tokens, the last possibly partial). Engine block j (tokens [jE, (j+1)E)) gets the key of the
 * trace block that holds its last token, mixed with j. Exact when the block sizes are equal or the
 * engine's divides the trace's and both start at 0; when the trace's blocks are larger it is an
 * approximation: an engine block inside trace block m is shared only if all of block m is (so hits
 * are under-counted, never invented). Stops at the first engine block the ids do not cover.
 */
export function keysFromTraceHashes(
  hashIds: readonly number[],
  traceBlockSize: number,
  promptTokens: number,
  blockSize: number,
): Float64Array {
  const full = Math.floor(promptTokens / blockSize);
  let n = 0;
  while (n < full && Math.floor(((n + 1) * blockSize - 1) / traceBlockSize) < hashIds.length) n++;
  const keys = new Float64Array(n);
  let mEnd = 0; // tokens up to the end of the current trace block
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < n; j++) {
    const last = (j + 1) * blockSize; // one past the engine block's last token
    if (last > mEnd) {
      const m = Math.floor((last - 1) / traceBlockSize);
      mEnd = (m + 1) * traceBlockSize;
      const h = hashIds[m]!;
      const base = mix53(
        h >= 0 && h < 2 ** 53 ? Math.trunc(h) : Math.abs(Math.trunc(h)) % 2 ** 53,
        TRACE_DOMAIN,
      );
      lo = base >>> 0;
      hi = Math.floor(base / TWO32) >>> 0;
    }
    keys[j] = blockKeyParts(lo, hi, j);
  }
  return keys;
}

/**
 * Keys for a session turn without hash ids: the turn's prompt is taken to extend the previous
 * turn's prompt and answer (DESIGN §5: context grows turn by turn), so block j of every turn in
 * the same `epoch` of a session has the same key. Covers the full blocks of prompt + output (the
 * output blocks are cached when the turn completes, for the next turn to hit).
 */
export function keysForSessionTurn(
  sessionKey: number,
  epoch: number,
  contextTokens: number,
  blockSize: number,
): Float64Array {
  const n = Math.floor(contextTokens / blockSize);
  const keys = new Float64Array(n);
  const base = mix53(mix53(sessionKey, SESSION_DOMAIN), epoch);
  const lo = base >>> 0;
  const hi = Math.floor(base / TWO32) >>> 0;
  for (let j = 0; j < n; j++) keys[j] = blockKeyParts(lo, hi, j);
  return keys;
}
