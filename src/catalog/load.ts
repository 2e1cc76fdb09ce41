/**
 * Load the bundled catalog (the package's catalog/ directory) and any user catalog directories.
 *
 * A user directory may hold any subset of accelerators|instances|models|stacks as .json, .yaml or
 * .yml. User entries are merged in order; one whose key already exists replaces it and leaves a
 * warning. Every file is validated in full: errors name the file, the position (file:line:col for
 * YAML) and the path in the document, e.g.
 *   mycat/instances.json: entries[3].price.on_demand_usd_per_hour: expected number ≥ 0, found "abc"
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { InputError, excerpt } from '../util/errors.js';
import {
  AcceleratorsFileSchema,
  InstancesFileSchema,
  ModelsFileSchema,
  StacksFileSchema,
  CATALOG_KINDS,
  toAccelerator,
  toInstance,
  toModel,
  toStack,
  toTcoReference,
  type Accelerator,
  type CatalogKind,
  type Instance,
  type Model,
  type Stack,
  type TcoReference,
} from './schema.js';

/** Where an entry was loaded from: the file label, its index, and a locator prefix for messages. */
export interface EntryOrigin {
  file: string;
  /** `bundled` for the package catalog, `user` for --catalog directories. */
  layer: 'bundled' | 'user';
  /** Path of the entry inside its document, e.g. ['entries', 3] or ['tco', 0]. */
  path: (string | number)[];
}

/** Every kind of keyed entry the catalog holds. `tco` entries live in instances files. */
export type EntryKind = CatalogKind | 'tco';

export interface CatalogEntryMap {
  accelerators: Accelerator;
  instances: Instance;
  models: Model;
  stacks: Stack;
  tco: TcoReference;
}

export interface Catalog {
  accelerators: ReadonlyMap<string, Accelerator>;
  instances: ReadonlyMap<string, Instance>;
  models: ReadonlyMap<string, Model>;
  stacks: ReadonlyMap<string, Stack>;
  /** Modeled total-cost-of-ownership references (not list prices). */
  tco: ReadonlyMap<string, TcoReference>;
  /** `version` of every file read, keyed by file label. */
  versions: ReadonlyMap<string, string>;
  /** Override notices (and any other non-fatal findings), in load order. */
  warnings: string[];
  /** Lookups that throw an InputError naming near matches when the key is unknown. */
  accelerator(key: string): Accelerator;
  instance(key: string): Instance;
  model(key: string): Model;
  stack(key: string): Stack;
  tcoReference(key: string): TcoReference;
  /** File an entry came from. */
  origin(kind: EntryKind, key: string): EntryOrigin | undefined;
  /** Every entry with this key, across kinds (keys are unique per kind, not across kinds). */
  find(key: string): { kind: EntryKind; entry: CatalogEntryMap[EntryKind] }[];
  /** Near matches for a key among all kinds, or one kind. */
  suggest(key: string, kind?: EntryKind): string[];
}

export interface LoadCatalogOptions {
  /** User catalog directories, merged over the bundled catalog in this order. */
  extraDirs?: string[];
  /** Override the bundled catalog directory (tests). */
  bundledDir?: string;
}

/** The package's own catalog directory (works from src/ under tsx and from dist/ when compiled). */
export const BUNDLED_CATALOG_DIR = fileURLToPath(new URL('../../catalog/', import.meta.url));

const SCHEMAS = {
  accelerators: AcceleratorsFileSchema,
  instances: InstancesFileSchema,
  models: ModelsFileSchema,
  stacks: StacksFileSchema,
} as const;

type ParsedFile<K extends CatalogKind> = z.infer<(typeof SCHEMAS)[K]>;

/** A validated catalog file plus a function that turns a document path into a message prefix. */
export interface LoadedFile<K extends CatalogKind> {
  kind: K;
  file: string;
  data: ParsedFile<K>;
  where(docPath: (string | number)[]): string;
}

const MAX_REPORTED_ISSUES = 20;

// ---------------------------------------------------------------------------------------------
// Parsing and error formatting
// ---------------------------------------------------------------------------------------------

/** `entries[3].price.on_demand_usd_per_hour`; keys that are not identifiers are quoted. */
export function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out || '(top level)';
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return excerpt(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array (${v.length} items)`;
  return 'an object';
}

function valueAt(root: unknown, p: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return { found: false, value: undefined };
    const rec = cur as Record<PropertyKey, unknown>;
    if (!Object.prototype.hasOwnProperty.call(rec, seg)) return { found: false, value: undefined };
    cur = rec[seg];
  }
  return { found: true, value: cur };
}

/** The zod schema that validates the value at `p` (used for "did you mean" on unknown keys). */
function schemaAt(schema: z.ZodType, p: readonly PropertyKey[]): z.ZodType | undefined {
  let cur: z.ZodType | undefined = schema;
  for (const seg of [...p, null]) {
    // unwrap wrappers first
    for (let guard = 0; cur && guard < 10; guard++) {
      const def = cur._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
      if ((def.type === 'optional' || def.type === 'nullable' || def.type === 'default') && def.innerType)
        cur = def.innerType;
      else if (def.type === 'pipe' && def.in) cur = def.in;
      else break;
    }
    if (seg === null || !cur) return cur;
    const def = cur._zod.def as {
      type: string;
      shape?: Record<string, z.ZodType>;
      element?: z.ZodType;
      valueType?: z.ZodType;
    };
    if (def.type === 'object' && def.shape) cur = def.shape[String(seg)];
    else if (def.type === 'array' && def.element) cur = def.element;
    else if (def.type === 'record' && def.valueType) cur = def.valueType;
    else return undefined;
  }
  return cur;
}

function objectKeys(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const def = schema._zod.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** Up to `max` candidates close to `key` (edit distance, then shared substrings), best first. */
export function nearMatches(key: string, candidates: Iterable<string>, max = 5): string[] {
  const k = key.toLowerCase();
  const scored: { c: string; d: number }[] = [];
  for (const c of candidates) {
    const cl = c.toLowerCase();
    let d = editDistance(k, cl);
    if (cl.includes(k) || k.includes(cl)) d = Math.min(d, Math.abs(cl.length - k.length) / 4);
    const limit = Math.max(2, Math.floor(Math.max(k.length, cl.length) / 3));
    if (d <= limit) scored.push({ c, d });
  }
  scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, max).map((s) => s.c);
}

/** Start offset of a YAML node, if it is one. */
function rangeStart(n: unknown): number | undefined {
  return isNode(n) ? n.range?.[0] : undefined;
}

/** Locator for positions in a YAML document (JSON files get path-only messages). */
function yamlLocator(doc: Document, lc: LineCounter): (p: readonly PropertyKey[], keyOf?: boolean) => string {
  return (p, keyOf = false) => {
    let node: unknown = doc.contents;
    let offset = rangeStart(node);
    for (let i = 0; i < p.length; i++) {
      const seg = p[i];
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        if (i === p.length - 1 && keyOf) {
          offset = rangeStart(pair.key) ?? offset;
          break;
        }
        node = pair.value;
        offset = rangeStart(node) ?? rangeStart(pair.key) ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (node === undefined) break;
        offset = rangeStart(node) ?? offset;
      } else break;
    }
    if (offset === undefined) return '';
    const pos = lc.linePos(offset);
    return `:${pos.line}:${pos.col}`;
  };
}

/**
 * Parse and validate one catalog file's text. `file` is the label used in messages (usually the
 * path as the user gave it). Throws InputError listing every problem found (up to 20).
 */
export function parseCatalogText<K extends CatalogKind>(
  kind: K,
  text: string,
  file: string,
  format: 'json' | 'yaml',
): LoadedFile<K> {
  let raw: unknown;
  let locate: (p: readonly PropertyKey[], keyOf?: boolean) => string = () => '';
  if (format === 'json') {
    try {
      raw = JSON.parse(text) as unknown;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new InputError(`${file}: invalid JSON: ${msg}`);
    }
  } else {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const lines = doc.errors.slice(0, MAX_REPORTED_ISSUES).map((e) => {
        const pos = lc.linePos(e.pos[0]);
        const first = e.message.split('\n')[0] ?? e.message;
        return `${file}:${pos.line}:${pos.col}: invalid YAML: ${first}`;
      });
      throw new InputError(lines.join('\n'));
    }
    raw = doc.toJS();
    locate = yamlLocator(doc, lc);
  }

  const schema = SCHEMAS[kind] as unknown as z.ZodType<ParsedFile<K>>;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines: string[] = [];
    for (const issue of result.error.issues) {
      lines.push(...formatIssue(issue, raw, schema, file, locate));
      if (lines.length >= MAX_REPORTED_ISSUES) break;
    }
    const extra =
      result.error.issues.length > lines.length
        ? `\n(${result.error.issues.length - lines.length} more problems not shown)`
        : '';
    throw new InputError(lines.slice(0, MAX_REPORTED_ISSUES).join('\n') + extra);
  }
  return {
    kind,
    file,
    data: result.data,
    where: (p) => `${file}${locate(p)}: ${formatPath(p)}`,
  };
}

function formatIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  schema: z.ZodType,
  file: string,
  locate: (p: readonly PropertyKey[], keyOf?: boolean) => string,
): string[] {
  const p = issue.path;
  const at = (q: readonly PropertyKey[], keyOf = false) => `${file}${locate(q, keyOf)}: ${formatPath(q)}`;
  const { found, value } = valueAt(raw, p);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = objectKeys(schemaAt(schema, p));
      return issue.keys.map((k) => {
        const near = nearMatches(k, allowed, 1);
        const hint = near.length
          ? ` (did you mean '${near[0]}'?)`
          : allowed.length
            ? ` (allowed: ${allowed.join(', ')})`
            : '';
        return `${at([...p, k], true)}: unknown key '${k}'${hint}`;
      });
    }
    case 'invalid_value': {
      const opts = issue.values.map((v) => JSON.stringify(v)).join(' | ');
      return [`${at(p)}: expected one of ${opts}, found ${describeValue(value)}`];
    }
    case 'invalid_type':
    case 'too_small':
    case 'too_big': {
      const expected = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}`;
      if (!found) return [`${at(p)}: missing required field (${expected})`];
      return [`${at(p)}: ${expected}, found ${describeValue(value)}`];
    }
    default:
      return [`${at(p)}: ${issue.message}`];
  }
}

/** Read and validate one catalog file from disk; the format follows the extension. */
export async function readCatalogFile<K extends CatalogKind>(
  kind: K,
  filePath: string,
  label = filePath,
): Promise<LoadedFile<K>> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new InputError(`${label}: cannot read catalog file: ${msg}`);
  }
  const format = filePath.endsWith('.json') ? 'json' : 'yaml';
  return parseCatalogText(kind, text, label, format);
}

async function filesInDir(
  dir: string,
  label: string,
): Promise<{ kind: CatalogKind; path: string; label: string }[]> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new InputError(`${label}: catalog directory not found`);
  }
  if (!st.isDirectory()) throw new InputError(`${label}: not a directory (--catalog takes directories)`);
  const names = new Set(await readdir(dir));
  const out: { kind: CatalogKind; path: string; label: string }[] = [];
  for (const kind of CATALOG_KINDS) {
    const present = ['.json', '.yaml', '.yml'].map((ext) => `${kind}${ext}`).filter((n) => names.has(n));
    if (present.length > 1) {
      throw new InputError(`${label}: both ${present.join(' and ')} exist; keep one file per kind`);
    }
    const name = present[0];
    if (name) out.push({ kind, path: path.join(dir, name), label: path.join(label, name) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

interface Slot<T> {
  entry: T;
  origin: EntryOrigin;
  where: string;
}

class CatalogImpl implements Catalog {
  readonly slots: { [K in EntryKind]: Map<string, Slot<CatalogEntryMap[K]>> } = {
    accelerators: new Map(),
    instances: new Map(),
    models: new Map(),
    stacks: new Map(),
    tco: new Map(),
  };
  readonly versions = new Map<string, string>();
  readonly warnings: string[] = [];

  private view<K extends EntryKind>(kind: K): ReadonlyMap<string, CatalogEntryMap[K]> {
    const m = new Map<string, CatalogEntryMap[K]>();
    for (const [k, s] of this.slots[kind]) m.set(k, s.entry);
    return m;
  }
  get accelerators() {
    return this.view('accelerators');
  }
  get instances() {
    return this.view('instances');
  }
  get models() {
    return this.view('models');
  }
  get stacks() {
    return this.view('stacks');
  }
  get tco() {
    return this.view('tco');
  }

  private get<K extends EntryKind>(kind: K, key: string): CatalogEntryMap[K] {
    const s = this.slots[kind].get(key);
    if (s) return s.entry;
    const near = this.suggest(key, kind);
    const hint = near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : '';
    throw new InputError(
      `unknown ${KIND_NOUN[kind]} '${key}'${hint} (see: pertoken catalog list ${kind === 'tco' ? 'instances' : kind})`,
    );
  }
  accelerator(key: string) {
    return this.get('accelerators', key);
  }
  instance(key: string) {
    return this.get('instances', key);
  }
  model(key: string) {
    return this.get('models', key);
  }
  stack(key: string) {
    return this.get('stacks', key);
  }
  tcoReference(key: string) {
    return this.get('tco', key);
  }
  origin(kind: EntryKind, key: string): EntryOrigin | undefined {
    return this.slots[kind].get(key)?.origin;
  }
  find(key: string): { kind: EntryKind; entry: CatalogEntryMap[EntryKind] }[] {
    const out: { kind: EntryKind; entry: CatalogEntryMap[EntryKind] }[] = [];
    for (const kind of ENTRY_KINDS) {
      const s = this.slots[kind].get(key);
      if (s) out.push({ kind, entry: s.entry });
    }
    return out;
  }
  suggest(key: string, kind?: EntryKind): string[] {
    const keys: string[] = [];
    for (const k of kind ? [kind] : ENTRY_KINDS) keys.push(...this.slots[k].keys());
    return nearMatches(key, keys);
  }

  add<K extends EntryKind>(
    kind: K,
    entry: CatalogEntryMap[K],
    origin: EntryOrigin,
    where: string,
    seen: Map<string, string>,
  ): void {
    const key = (entry as { key: string }).key;
    const firstAt = seen.get(key);
    if (firstAt !== undefined) {
      throw new InputError(
        `${where}.key: duplicate ${KIND_NOUN[kind]} key '${key}' in one file (first at ${firstAt})`,
      );
    }
    seen.set(key, formatPath(origin.path));
    const prev = this.slots[kind].get(key);
    if (prev) {
      const what =
        prev.origin.layer === 'bundled' ? 'the bundled entry' : `the entry from ${prev.origin.file}`;
      this.warnings.push(`catalog: ${origin.file}: ${KIND_NOUN[kind]} '${key}' overrides ${what}`);
    }
    this.slots[kind].set(key, { entry, origin, where });
  }
}

const ENTRY_KINDS: readonly EntryKind[] = ['accelerators', 'instances', 'tco', 'models', 'stacks'];
const KIND_NOUN: Record<EntryKind, string> = {
  accelerators: 'accelerator',
  instances: 'instance',
  models: 'model',
  stacks: 'stack',
  tco: 'TCO reference',
};

function mergeFile(cat: CatalogImpl, f: LoadedFile<CatalogKind>, layer: 'bundled' | 'user'): void {
  cat.versions.set(f.file, f.data.version);
  const origin = (p: (string | number)[]): EntryOrigin => ({ file: f.file, layer, path: p });
  switch (f.kind) {
    case 'accelerators': {
      const seen = new Map<string, string>();
      (f.data as ParsedFile<'accelerators'>).entries.forEach((e, i) =>
        cat.add('accelerators', toAccelerator(e), origin(['entries', i]), f.where(['entries', i]), seen),
      );
      break;
    }
    case 'instances': {
      const data = f.data as ParsedFile<'instances'>;
      const seen = new Map<string, string>();
      data.entries.forEach((e, i) =>
        cat.add('instances', toInstance(e), origin(['entries', i]), f.where(['entries', i]), seen),
      );
      const seenTco = new Map<string, string>();
      (data.tco ?? []).forEach((e, i) =>
        cat.add('tco', toTcoReference(e), origin(['tco', i]), f.where(['tco', i]), seenTco),
      );
      break;
    }
    case 'models': {
      const seen = new Map<string, string>();
      (f.data as ParsedFile<'models'>).entries.forEach((e, i) =>
        cat.add('models', toModel(e), origin(['entries', i]), f.where(['entries', i]), seen),
      );
      break;
    }
    case 'stacks': {
      const seen = new Map<string, string>();
      (f.data as ParsedFile<'stacks'>).entries.forEach((e, i) =>
        cat.add('stacks', toStack(e), origin(['entries', i]), f.where(['entries', i]), seen),
      );
      break;
    }
  }
}

/** Cross-file checks once everything is merged: references must resolve. */
function crossCheck(cat: CatalogImpl): void {
  const problems: string[] = [];
  const accKeys = [...cat.slots.accelerators.keys()];
  for (const [key, s] of cat.slots.instances) {
    const acc = s.entry.acceleratorKey;
    if (!cat.slots.accelerators.has(acc)) {
      const near = nearMatches(acc, accKeys, 3);
      const hint = near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : '';
      problems.push(`${s.where}.accelerator: instance '${key}' names unknown accelerator '${acc}'${hint}`);
    }
  }
  for (const [key, s] of cat.slots.tco) {
    const acc = s.entry.acceleratorKey;
    if (acc !== null && !cat.slots.accelerators.has(acc)) {
      problems.push(`${s.where}.accelerator: TCO reference '${key}' names unknown accelerator '${acc}'`);
    }
  }
  if (problems.length) throw new InputError(problems.slice(0, MAX_REPORTED_ISSUES).join('\n'));
}

/** Load the bundled catalog, then each user directory in order. */
export async function loadCatalog(opts: LoadCatalogOptions = {}): Promise<Catalog> {
  const cat = new CatalogImpl();
  const bundledDir = opts.bundledDir ?? BUNDLED_CATALOG_DIR;
  for (const kind of CATALOG_KINDS) {
    const file = path.join(bundledDir, `${kind}.json`);
    const loaded = await readCatalogFile(kind, file, `catalog/${kind}.json`);
    mergeFile(cat, loaded, 'bundled');
  }
  for (const dir of opts.extraDirs ?? []) {
    for (const f of await filesInDir(dir, dir)) {
      const loaded = await readCatalogFile(f.kind, f.path, f.label);
      mergeFile(cat, loaded, 'user');
    }
  }
  crossCheck(cat);
  return cat;
}
