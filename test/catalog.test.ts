import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import {
  BUNDLED_CATALOG_DIR,
  catalogFileJsonSchema,
  EVIDENCE_LEVELS,
  PRICING_MODELS,
  activeParams,
  evidenceOf,
  instanceUsdPerHour,
  kvBytesForContext,
  kvBytesPerToken,
  loadCatalog,
  paramCounts,
  parseCatalogText,
  totalParams,
  type Catalog,
  type Model,
} from '../src/catalog/index.js';
import { InputError } from '../src/util/errors.js';
import {
  catalogShow,
  registerCatalog,
  renderCatalogList,
  renderCatalogShow,
} from '../src/cli/commands/catalog.js';

/** The 21 accelerators of shared/catalog-sources/accelerators.json. */
const SHARED_ACCELERATORS = [
  'H100_SXM',
  'H100_PCIE',
  'H200',
  'B200',
  'GB200',
  'B300',
  'GB300',
  'L40S',
  'A100_80GB',
  'MI300X',
  'MI325X',
  'MI355X',
  'TPU_v5e',
  'TPU_v5p',
  'TPU_v6e',
  'TPU_v7',
  'Trainium1',
  'Trainium2',
  'Trainium3',
  'Inferentia2',
  'Gaudi3',
];

const REQUIRED_INSTANCES = [
  'aws/p5.48xlarge',
  'aws/p5e.48xlarge',
  'aws/p5en.48xlarge',
  'aws/p6-b200.48xlarge',
  'aws/trn1.32xlarge',
  'aws/trn2.48xlarge',
  'aws/inf2.48xlarge',
  'gcp/a3-highgpu-8g',
  'gcp/a3-ultragpu-8g',
  'gcp/a4-highgpu-8g',
  'gcp/tpu-v5e',
  'gcp/tpu-v5p',
  'gcp/tpu-v6e',
  'azure/nd-h100-v5',
  'azure/nd-mi300x-v5',
];

let cat: Catalog;
before(async () => {
  cat = await loadCatalog();
});

async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pertoken-cat-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** A minimal valid user instance (private price), as a plain object to mutate in tests. */
function userInstance(): Record<string, unknown> {
  return {
    key: 'mycloud/h100x8',
    provider: 'MyCloud',
    name: 'h100x8',
    accelerator: 'H100_SXM',
    chips: 8,
    region: 'eu-1',
    as_of: '2026-11',
    sources: ['our contract, 2026-11'],
    evidence: { default: 'vendor-reported' },
    host: {
      vcpus: 192,
      ram_gib: 2048,
      network_gbps: 3200,
      sources: ['our contract'],
      evidence: { default: 'vendor-reported' },
      notes: null,
    },
    price: {
      per: 'instance',
      on_demand_usd_per_hour: 40,
      commit_1yr_usd_per_hour: null,
      commit_3yr_usd_per_hour: 20,
      spot_usd_per_hour: null,
      capacity_block_usd_per_hour: null,
      sources: ['our contract'],
      evidence: { default: 'measured' },
      notes: null,
    },
    notes: null,
  };
}

function instancesFile(entries: unknown[]): string {
  return JSON.stringify({ version: 'test', kind: 'instances', entries }, null, 2);
}

async function rejects(p: Promise<unknown>, check: (msg: string) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    check(err.message);
    return true;
  });
}

describe('bundled catalog', () => {
  test('loads with every shared accelerator, the required instances and no warnings', () => {
    for (const k of SHARED_ACCELERATORS) assert.ok(cat.accelerators.has(k), `missing accelerator ${k}`);
    for (const k of REQUIRED_INSTANCES) assert.ok(cat.instances.has(k), `missing instance ${k}`);
    const neoclouds = new Set(
      [...cat.instances.values()].map((i) => i.provider).filter((p) => !['AWS', 'GCP', 'Azure'].includes(p)),
    );
    assert.ok(neoclouds.size >= 2, `neoclouds: ${[...neoclouds].join(', ')}`);
    for (const k of ['vllm', 'sglang', 'trtllm', 'jax-xla', 'neuron', 'rocm-vllm'])
      assert.ok(cat.stacks.has(k), k);
    assert.ok(cat.tco.size > 0);
    assert.deepEqual(cat.warnings, []);
  });

  test('uncertain fields of the shared sources are marked estimated', () => {
    const b300 = cat.accelerator('B300');
    assert.equal(evidenceOf(b300.evidence, 'fp4DenseTflops'), 'estimated');
    assert.equal(evidenceOf(b300.evidence, 'hbmTBps'), 'vendor-reported');
    assert.equal(evidenceOf(cat.accelerator('H100_PCIE').evidence, 'hbmTBps'), 'estimated');
    assert.ok(b300.evidence.notes['fp4DenseTflops']?.includes('uncertain'));
    assert.equal(cat.accelerator('H100_SXM').idleW, null, 'no source gives idle power');
  });

  test('every number in every bundled file has a source and an evidence level', async () => {
    const levels = new Set<string>(EVIDENCE_LEVELS);
    let numbers = 0;
    const walk = (node: unknown, p: string, sources: unknown, evidence: unknown): void => {
      if (typeof node === 'number') {
        numbers++;
        assert.ok(Array.isArray(sources) && sources.length > 0, `${p}: number without a source`);
        const def = (evidence as { default?: unknown } | undefined)?.default;
        assert.ok(typeof def === 'string' && levels.has(def), `${p}: number without an evidence level`);
        return;
      }
      if (Array.isArray(node)) {
        node.forEach((v, i) => walk(v, `${p}[${i}]`, sources, evidence));
        return;
      }
      if (node && typeof node === 'object') {
        const o = node as Record<string, unknown>;
        const s = Array.isArray(o['sources']) && o['sources'].length > 0 ? o['sources'] : sources;
        const e = o['evidence'] && typeof o['evidence'] === 'object' ? o['evidence'] : evidence;
        for (const [k, v] of Object.entries(o)) if (k !== 'evidence') walk(v, `${p}.${k}`, s, e);
      }
    };
    for (const kind of ['accelerators', 'instances', 'models', 'stacks']) {
      const doc = JSON.parse(
        await readFile(path.join(BUNDLED_CATALOG_DIR, `${kind}.json`), 'utf8'),
      ) as Record<string, unknown>;
      for (const key of ['entries', 'tco'])
        if (doc[key]) walk(doc[key], `${kind}.${key}`, undefined, undefined);
    }
    assert.ok(numbers > 500, `walked ${numbers} numbers`);
  });

  test('stack efficiencies are left for the calibration to fit', () => {
    for (const s of cat.stacks.values()) {
      assert.equal(s.efficiency.computeEfficiency, null, s.key);
      assert.equal(s.efficiency.memoryBandwidthEfficiency, null, s.key);
      assert.match(s.efficiency.status, /calibration/);
    }
    assert.equal(cat.stack('trtllm').features.pagedAttentionBlockTokens, 32);
  });

  test('instance prices convert between per-chip and per-instance', () => {
    const p5 = cat.instance('aws/p5.48xlarge');
    assert.equal(p5.price.per, 'chip');
    assert.equal(instanceUsdPerHour(p5, 'onDemand'), 6.88 * 8);
    assert.equal(instanceUsdPerHour(p5, 'spot'), null);
    assert.equal(evidenceOf(p5.price.evidence, 'commit1yr'), 'estimated');
    const trn2 = cat.instance('aws/trn2.48xlarge');
    // on demand only: $2.235/chip-hour × 16 = $35.76/hour (us-east-2); no other published price
    assert.ok(
      Math.abs((instanceUsdPerHour(trn2, 'onDemand') ?? 0) - 35.76) < 1e-9,
      'trn2.48xlarge is $35.76/h',
    );
    for (const m of PRICING_MODELS)
      if (m !== 'onDemand')
        assert.equal(instanceUsdPerHour(trn2, m), null, `no trn2 ${m} price in the sources`);
    const v5e = cat.instance('gcp/tpu-v5e');
    assert.equal(v5e.chips, 8);
    assert.ok(Math.abs((instanceUsdPerHour(v5e, 'onDemand') ?? 0) - 9.6) < 1e-9, 'v5litepod-8 is $9.60/h');
  });

  test('unknown keys name near matches', () => {
    assert.throws(
      () => cat.instance('aws/p5.48xlarg'),
      (e: unknown) => e instanceof InputError && e.message.includes("'aws/p5.48xlarge'"),
    );
    assert.throws(() => cat.model('llama-3.1-7b'), /did you mean.*llama-3\.1-70b/);
  });
});

describe('parameter counts', () => {
  test('Llama-3.1-8B by hand', () => {
    // vocab V = 128,256, hidden h = 4,096, 32 layers, 32 heads × 128, 8 KV heads, FFN 14,336, untied.
    // embedding  V·h                       = 525,336,576
    // lm_head    V·h                       = 525,336,576
    // per layer: q 4096·4096 = 16,777,216; k, v 4096·1024 = 4,194,304 each; o 16,777,216
    //            attention                 =  41,943,040
    //            gated FFN 3·4096·14336    = 176,160,768
    //            2 RMSNorms 2·4096         =       8,192
    //            layer                     = 218,112,000  × 32 = 6,979,584,000
    // final norm                           =       4,096
    // total = 525,336,576·2 + 6,979,584,000 + 4,096 = 8,030,261,248  (published: "8B"; HF: 8.03B)
    const m = cat.model('llama-3.1-8b');
    assert.equal(totalParams(m), 8_030_261_248);
    const b = paramCounts(m).breakdown;
    assert.equal(b.embedding, 525_336_576);
    assert.equal(b.attention, 32 * 41_943_040);
    assert.equal(b.denseFfn, 32 * 176_160_768);
  });

  /**
   * Within 1 % of the published figure, or within one unit of its last stated digit when the
   * publisher gives fewer digits than that (e.g. "37B", "3.3B").
   */
  function close(m: Model, computed: number, value: number, stated: string, what: string): void {
    const digits = stated.replace(/[^0-9.]/g, '');
    const decimals = digits.includes('.') ? (digits.split('.')[1]?.length ?? 0) : 0;
    const unit = Math.pow(10, -decimals) * (value / Number(digits));
    const tol = Math.max(0.01 * value, unit);
    assert.ok(
      Math.abs(computed - value) <= tol,
      `${m.key} ${what}: computed ${computed} vs published ${stated} (${(((computed - value) / value) * 100).toFixed(2)} %)`,
    );
  }

  test('every model is within 1 % of its published size (and MoE active where published)', () => {
    assert.equal(cat.models.size, 10);
    for (const m of cat.models.values()) {
      const total = totalParams(m);
      const pub = m.publishedParams;
      assert.ok(
        Math.abs(total - pub.total.value) <= 0.01 * pub.total.value,
        `${m.key} total ${total} vs ${pub.total.stated}`,
      );
      if (m.moe) {
        assert.ok(pub.active, `${m.key}: MoE without a published active count`);
        const computed = activeParams(m, {
          includeInputEmbedding: pub.active.countsInputEmbedding !== false,
        });
        close(m, computed, pub.active.value, pub.active.stated, 'active');
        assert.ok(computed < total / 3, `${m.key}: active should be a small part of total`);
      } else {
        assert.equal(
          activeParams(m, { includeInputEmbedding: true }),
          total,
          'dense: every parameter is active',
        );
      }
    }
    // the strict 1 % bound holds for active params wherever the published figure has ≥ 3 digits
    const strict = ['mixtral-8x7b', 'gpt-oss-120b'];
    for (const k of strict) {
      const m = cat.model(k);
      const pub = m.publishedParams.active;
      assert.ok(pub);
      const c = activeParams(m, { includeInputEmbedding: pub.countsInputEmbedding !== false });
      assert.ok(Math.abs(c - pub.value) <= 0.01 * pub.value, `${k}: ${c} vs ${pub.stated}`);
    }
  });

  test('DeepSeek-V3 MLA + MoE pieces', () => {
    const m = cat.model('deepseek-v3');
    const p = paramCounts(m);
    assert.ok(Math.abs(p.total - 671e9) / 671e9 < 0.001, `${p.total}`);
    // 58 MoE layers × (256 routed + 1 shared) experts × 3·7168·2048
    assert.equal(p.breakdown.routedExperts, 58 * 256 * 3 * 7168 * 2048);
    assert.equal(p.breakdown.sharedExperts, 58 * 1 * 3 * 7168 * 2048);
    assert.equal(p.breakdown.denseFfn, 3 * 3 * 7168 * 18432);
    assert.equal(p.activeBreakdown.routedExperts, 58 * 8 * 3 * 7168 * 2048);
  });
});

describe('KV cache bytes', () => {
  test('Llama-3.1-70B bf16 = 327,680 B/token; fp8 halves it', () => {
    const m = cat.model('llama-3.1-70b');
    assert.equal(kvBytesPerToken(m, 'bf16'), 80 * 8 * 128 * 2 * 2);
    assert.equal(kvBytesPerToken(m, 'bf16'), 327_680);
    assert.equal(kvBytesPerToken(m, 'fp8'), 163_840);
  });

  test('DeepSeek-V3 MLA stores the latent: 61 × (512 + 64) × 2 B', () => {
    const ds = cat.model('deepseek-v3');
    assert.equal(kvBytesPerToken(ds, 'bf16'), 61 * (512 + 64) * 2);
    assert.ok(kvBytesPerToken(ds, 'bf16') * 4 < kvBytesPerToken(cat.model('llama-3.1-70b'), 'bf16'));
    assert.equal(kvBytesPerToken(ds, 'fp8') * 2, kvBytesPerToken(ds, 'bf16'));
  });

  test('gpt-oss sliding-window layers stop growing at the window', () => {
    const m = cat.model('gpt-oss-120b');
    const perLayerToken = 8 * 64 * 2 * 2;
    assert.equal(kvBytesForContext(m, 100, 'bf16'), 36 * 100 * perLayerToken);
    assert.equal(kvBytesForContext(m, 10_000, 'bf16'), perLayerToken * (18 * 10_000 + 18 * 128));
  });
});

describe('user catalogs', () => {
  test('an override replaces the entry and warns', async () => {
    const dir = await tempDir({
      'instances.json': instancesFile([{ ...userInstance(), key: 'aws/p5.48xlarge' }]),
    });
    const c = await loadCatalog({ extraDirs: [dir] });
    const file = path.join(dir, 'instances.json');
    assert.deepEqual(c.warnings, [
      `catalog: ${file}: instance 'aws/p5.48xlarge' overrides the bundled entry`,
    ]);
    assert.equal(instanceUsdPerHour(c.instance('aws/p5.48xlarge'), 'onDemand'), 40);
    assert.equal(c.origin('instances', 'aws/p5.48xlarge')?.file, file);
  });

  test('a YAML file adds entries and may use a user accelerator', async () => {
    const acc = {
      version: 'test',
      kind: 'accelerators',
      entries: [{ ...(await bundledEntry('accelerators', 'H100_SXM')), key: 'X1', name: 'Our ASIC' }],
    };
    const inst = { ...userInstance(), key: 'mycloud/x1', accelerator: 'X1' };
    const yaml = (o: unknown) => JSON.stringify(o, null, 2); // JSON is valid YAML
    const dir = await tempDir({
      'accelerators.yaml': yaml(acc),
      'instances.yml': yaml({ version: 't', kind: 'instances', entries: [inst] }),
    });
    const c = await loadCatalog({ extraDirs: [dir] });
    assert.equal(c.instance('mycloud/x1').acceleratorKey, 'X1');
    assert.deepEqual(c.warnings, []);
  });

  test('wrong type names the file, the path and what was found', async () => {
    const bad = userInstance();
    (bad['price'] as Record<string, unknown>)['on_demand_usd_per_hour'] = 'abc';
    const dir = await tempDir({
      'instances.json': instancesFile([userInstance(), { ...bad, key: 'mycloud/b' }]),
    });
    await rejects(loadCatalog({ extraDirs: [dir] }), (msg) =>
      assert.equal(
        msg,
        `${path.join(dir, 'instances.json')}: entries[1].price.on_demand_usd_per_hour: expected number ≥ 0 or null, found "abc"`,
      ),
    );
  });

  test('unknown key and missing field', async () => {
    const bad = userInstance();
    (bad['price'] as Record<string, unknown>)['on_demand_usd_per_hr'] = 3;
    delete bad['chips'];
    const dir = await tempDir({ 'instances.json': instancesFile([bad]) });
    const f = path.join(dir, 'instances.json');
    await rejects(loadCatalog({ extraDirs: [dir] }), (msg) => {
      const lines = msg.split('\n');
      assert.ok(lines.includes(`${f}: entries[0].chips: missing required field (expected integer > 0)`), msg);
      assert.ok(
        lines.includes(
          `${f}: entries[0].price.on_demand_usd_per_hr: unknown key 'on_demand_usd_per_hr' (did you mean 'on_demand_usd_per_hour'?)`,
        ),
        msg,
      );
    });
  });

  test('YAML errors give file:line:col', async () => {
    const syntax = await tempDir({
      'models.yaml': 'version: x\nkind: models\nentries:\n  - key: [unclosed\n',
    });
    await rejects(loadCatalog({ extraDirs: [syntax] }), (msg) =>
      assert.match(msg, new RegExp(`^${escape(path.join(syntax, 'models.yaml'))}:\\d+:\\d+: invalid YAML: `)),
    );
    const yamlText = [
      'version: t',
      'kind: instances',
      'entries:',
      '  - key: mycloud/y',
      '    provider: MyCloud',
      '    name: null',
      '    accelerator: H100_SXM',
      '    chips: eight',
    ].join('\n');
    const dir = await tempDir({ 'instances.yaml': yamlText });
    await rejects(loadCatalog({ extraDirs: [dir] }), (msg) => {
      const f = path.join(dir, 'instances.yaml');
      assert.ok(
        msg.split('\n').includes(`${f}:8:12: entries[0].chips: expected integer > 0, found "eight"`),
        msg,
      );
      assert.ok(msg.includes(`${f}:4:5: entries[0].region: missing required field`), msg);
    });
  });

  test('an instance naming an unknown accelerator is an error naming both', async () => {
    const dir = await tempDir({
      'instances.json': instancesFile([{ ...userInstance(), accelerator: 'H20O' }]),
    });
    await rejects(loadCatalog({ extraDirs: [dir] }), (msg) =>
      assert.equal(
        msg,
        `${path.join(dir, 'instances.json')}: entries[0].accelerator: instance 'mycloud/h100x8' names unknown accelerator 'H20O'; did you mean 'H200', 'B200'?`,
      ),
    );
  });

  test('duplicate keys within one file are an error', async () => {
    const dir = await tempDir({ 'instances.json': instancesFile([userInstance(), userInstance()]) });
    await rejects(loadCatalog({ extraDirs: [dir] }), (msg) =>
      assert.equal(
        msg,
        `${path.join(dir, 'instances.json')}: entries[1].key: duplicate instance key 'mycloud/h100x8' in one file (first at entries[0])`,
      ),
    );
  });

  test('evidence overrides must name real fields; wrong enum values list the options', () => {
    const inst = userInstance();
    (inst['price'] as Record<string, unknown>)['evidence'] = {
      default: 'guess',
      fields: { on_demand: 'estimated' },
    };
    assert.throws(
      () => parseCatalogText('instances', instancesFile([inst]), 'u/instances.json', 'json'),
      (e: unknown) =>
        e instanceof InputError &&
        e.message.includes(
          `u/instances.json: entries[0].price.evidence.default: expected one of "measured" | "vendor-reported" | "estimated", found "guess"`,
        ),
    );
    (inst['price'] as Record<string, unknown>)['evidence'] = {
      default: 'estimated',
      fields: { on_demand: 'estimated' },
    };
    assert.throws(
      () => parseCatalogText('instances', instancesFile([inst]), 'u/instances.json', 'json'),
      /u\/instances\.json: entries\[0\]\.price\.evidence\.fields\.on_demand: evidence names unknown numeric field 'on_demand'/,
    );
  });

  test('model files are checked for consistency', () => {
    const text = JSON.stringify({ version: 't', kind: 'models', entries: [{ bad: true }] });
    assert.throws(
      () => parseCatalogText('models', text, 'm.json', 'json'),
      /m\.json: entries\[0\]\.bad: unknown key 'bad'/,
    );
    assert.throws(
      () => parseCatalogText('models', '{', 'm.json', 'json'),
      /^InputError: m\.json: invalid JSON/,
    );
  });

  test('JSON Schemas for editors come from the same zod schemas', () => {
    const s = catalogFileJsonSchema('instances');
    assert.equal(s['additionalProperties'], false);
    assert.ok((s['properties'] as Record<string, unknown>)['entries']);
  });

  test('a missing user directory is an input error', async () => {
    await rejects(loadCatalog({ extraDirs: ['/nonexistent/pertoken-catalog'] }), (msg) =>
      assert.match(msg, /catalog directory not found/),
    );
  });
});

describe('catalog command', () => {
  test('list models shows computed and published sizes', () => {
    const out = renderCatalogList(cat, 'models');
    assert.match(out, /llama-3\.1-70b/);
    assert.match(out, /327,680/);
    assert.match(out, /70\.55B/);
    assert.ok(!out.includes('\u001b['), 'no ANSI colour');
    assert.throws(() => renderCatalogList(cat, 'gpus'), /unknown kind 'gpus'/);
  });

  test('show aws/p5.48xlarge prints every number with its source and evidence', () => {
    const out = renderCatalogShow(cat, 'aws/p5.48xlarge');
    assert.match(out, /skypilot-catalog/);
    assert.match(out, /instances\.vantage\.sh/);
    assert.match(out, /on-demand \$\/h per chip\s+│ 6\.88\s+│ vendor-reported │ \[1\]\[2\]/);
    assert.match(out, /1-yr commit \$\/h per chip\s+│ 4\.75\s+│ estimated/);
    const [r] = catalogShow(cat, 'aws/p5.48xlarge');
    assert.ok(r);
    for (const row of r.rows) {
      if (typeof row.value === 'number' && row.evidence !== 'derived') {
        assert.ok(row.sources.length > 0, `${row.field} has no source`);
        assert.ok(
          (EVIDENCE_LEVELS as readonly string[]).includes(row.evidence),
          `${row.field}: ${row.evidence}`,
        );
      }
    }
  });

  test('show of an unknown key suggests near matches', () => {
    assert.throws(
      () => renderCatalogShow(cat, 'aws/p5.48xlarg'),
      (e: unknown) => e instanceof InputError && /did you mean 'aws\/p5\.48xlarge'/.test(e.message),
    );
  });

  test('registerCatalog wires list/show with --json and --catalog', async () => {
    const dir = await tempDir({
      'instances.json': instancesFile([{ ...userInstance(), key: 'aws/p5.48xlarge' }]),
    });
    const out: string[] = [];
    const err: string[] = [];
    const origOut = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = (s: string) => (out.push(s), true);
    process.stderr.write = (s: string) => (err.push(s), true);
    try {
      const program = new Command().exitOverride();
      registerCatalog(program);
      await program.parseAsync(['catalog', 'show', 'aws/p5.48xlarge', '--json', '--catalog', dir], {
        from: 'user',
      });
    } finally {
      process.stdout.write = origOut;
      process.stderr.write = origErr;
    }
    const parsed = JSON.parse(out.join('')) as { key: string; rows: { field: string; value: unknown }[] }[];
    assert.equal(parsed[0]?.key, 'aws/p5.48xlarge');
    assert.ok(parsed[0]?.rows.some((r) => r.field === 'on-demand $/h per instance' && r.value === 40));
    assert.match(err.join(''), /overrides the bundled entry/);
  });
});

async function bundledEntry(kind: string, key: string): Promise<Record<string, unknown>> {
  const doc = JSON.parse(await readFile(path.join(BUNDLED_CATALOG_DIR, `${kind}.json`), 'utf8')) as {
    entries: Record<string, unknown>[];
  };
  const e = doc.entries.find((x) => x['key'] === key);
  assert.ok(e, `${kind} ${key} not bundled`);
  return e;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
