import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError, excerpt } from '../util/errors.js';

/** A path into a document, as zod reports it. */
export type DocPath = readonly PropertyKey[];

export function formatPath(path: DocPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** A parsed YAML/JSON document that can say where each path is in the file. */
export class SourceDocument {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string): SourceDocument {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const first = doc.errors[0];
    if (first !== undefined) {
      const pos = lines.linePos(first.pos[0]);
      throw new InputError(
        `${file}:${pos.line}:${pos.col}: ${first.message.split('\n')[0] ?? 'syntax error'}`,
      );
    }
    return new SourceDocument(file, doc, lines);
  }

  toJS(): unknown {
    return this.doc.toJS();
  }

  /** `file:line:col` of the deepest node on the path that exists (the key itself for a map entry). */
  locate(path: DocPath, preferKey = false): string {
    let node: unknown = this.doc.contents;
    let offset = 0;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === step);
        if (pair === undefined) break;
        const key = pair.key as Node;
        offset = key.range?.[0] ?? offset;
        if (preferKey && step === path[path.length - 1]) break;
        node = pair.value;
        const r = (pair.value as Node | null)?.range;
        if (r) offset = r[0];
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step] as Node | undefined;
        if (item === undefined) break;
        node = item;
        offset = item.range?.[0] ?? offset;
      } else break;
    }
    if (path.length === 0) offset = (this.doc.contents as Node | null)?.range?.[0] ?? 0;
    const pos = this.lines.linePos(offset);
    return `${this.file}:${pos.line}:${pos.col}`;
  }

  /** The value at a path, for "found …" in messages. */
  valueAt(path: DocPath): unknown {
    let v: unknown = this.toJS();
    for (const step of path) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<PropertyKey, unknown>)[step];
    }
    return v;
  }
}

function describeFound(v: unknown): string {
  if (v === undefined) return 'nothing';
  return excerpt(typeof v === 'string' ? v : JSON.stringify(v), 60).replace(
    /^"(.*)"$/s,
    typeof v === 'string' ? '"$1"' : '$1',
  );
}

/** Turn zod issues into `file:line:col: path: expected …, found …` lines. */
export function formatIssues(src: SourceDocument, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push(
          `${src.locate(path, true)}: ${formatPath(path)}: unknown key (check the spelling; see schema/scenario.schema.json)`,
        );
      }
      continue;
    }
    const found = src.valueAt(issue.path);
    let message = issue.message;
    if (issue.code === 'invalid_value' && 'values' in issue)
      message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    else if (issue.code === 'invalid_union' && found === undefined) message = 'expected a value';
    else if (found === undefined && issue.code === 'invalid_type')
      message = `missing; ${message.replace(/^Invalid input: /, '')}`;
    message = message.replace(/^Invalid input: /, '');
    if (/^(a|an|one of) /.test(message)) message = `expected ${message}`;
    const foundText = found === undefined ? '' : `, found ${describeFound(found)}`;
    out.push(`${src.locate(issue.path)}: ${formatPath(issue.path)}: ${message}${foundText}`);
  }
  return out;
}

/** Parse and validate a YAML/JSON file against a schema; throws an InputError listing every problem. */
export async function loadValidated<S extends z.ZodType>(
  file: string,
  schema: S,
): Promise<{ value: z.output<S>; source: SourceDocument; dir: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : String(code)})`);
  }
  if (text.trim() === '') throw new InputError(`${file}: empty file; expected a YAML or JSON document`);
  const src = SourceDocument.parse(file, text);
  const parsed = schema.safeParse(src.toJS());
  if (!parsed.success) {
    const lines = formatIssues(src, parsed.error.issues);
    throw new InputError(
      lines.length === 1 ? (lines[0] ?? '') : `${lines.length} problems:\n  ${lines.join('\n  ')}`,
    );
  }
  return { value: parsed.data, source: src, dir: dirname(resolve(file)) };
}
