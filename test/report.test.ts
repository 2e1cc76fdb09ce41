import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { compareScenario, type CompareResult } from '../src/cost/index.js';
import { reportWarnings, writeCompareHtml } from '../src/report/html.js';
import { repoRoot } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const CHARTS = ['chart-cost', 'chart-ttft', 'chart-tpot', 'chart-util'];

describe('compare HTML report', () => {
  let result: CompareResult;
  let html: string;
  let file: string;
  const dir = mkdtempSync(join(tmpdir(), 'pertoken-report-'));

  before(async () => {
    result = await compareScenario(join(repoRoot, 'scenarios/compare-example.yaml'));
    file = join(dir, 'report.html');
    await writeCompareHtml(result, file);
    html = readFileSync(file, 'utf8');
  });

  it('is self-contained: no scripts, stylesheets, images or fonts from anywhere', () => {
    assert.doesNotMatch(html, /<script\b/i);
    assert.doesNotMatch(html, /<link\b/i);
    assert.doesNotMatch(html, /<img\b/i);
    assert.doesNotMatch(html, /<iframe\b|<object\b|<embed\b/i);
    assert.doesNotMatch(html, /@import|@font-face|url\(/i);
    // no attribute points to the network (URLs in source text are fine)
    assert.doesNotMatch(html, /(src|href|xlink:href|action|data)\s*=\s*["']?\s*(https?:)?\/\//i);
    for (const id of CHARTS) assert.match(html, new RegExp(`<figure id="${id}"><svg`));
  });

  it('lists the ranking, the cost lines, every catalog number used and the warnings', () => {
    for (const c of result.candidates) assert.ok(html.includes(c.name), c.name);
    for (const line of result.candidates.find((c) => c.ledger !== null)!.ledger!.lines)
      assert.ok(html.includes(line.name.replace('&', '&amp;')), line.name);
    assert.match(html, /HBM capacity/);
    assert.match(html, /TDP/);
    assert.match(html, /performance-model profile/);
    assert.match(html, /p50, p90, p95, p99, p99\.9 and max/);
    const h100 = result.candidates.find((c) => c.name === 'h100-on-demand')!;
    assert.ok(h100.detail?.ttft !== null && h100.detail?.ttft !== undefined);
    assert.ok((h100.detail?.busyPerMinute?.length ?? 0) > 0);
    assert.ok(h100.detail?.busyPerMinute?.every((x) => x >= 0 && x <= 1) === true);
    const warnings = reportWarnings(result);
    assert.ok(warnings.some((w) => /inputs not measured/.test(w)));
    for (const w of warnings) assert.ok(html.includes(w.replace(/&/g, '&amp;').replace(/</g, '&lt;')), w);
  });

  it('renders in headless Chromium without network requests or console errors', async (t) => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI !== undefined && process.env.CI !== '')
        assert.fail(
          `${CHROMIUM} is missing: install it (apt-get install -y chromium) to run the browser test`,
        );
      t.skip(`${CHROMIUM} is missing (apt-get install -y chromium); the browser check is skipped`);
      return;
    }
    const { chromium } = await import('playwright-core');
    const userDataDir = mkdtempSync(join(tmpdir(), 'pertoken-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
      viewport: { width: 1200, height: 900 },
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (req) => requests.push(req.url()));
      const url = pathToFileURL(file).href;
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [url]);
      for (const id of CHARTS) {
        // a string expression: the test compiles without the DOM library
        const marks = await page.evaluate<{ marks: number; width: number; height: number }>(`(() => {
          const svg = document.querySelector('#${id} svg');
          const box = svg.getBoundingClientRect();
          return {
            marks: svg.querySelectorAll('g.mark-rect path, g.mark-line path, g.mark-symbol path').length,
            width: box.width,
            height: box.height,
          };
        })()`);
        assert.ok(marks.marks > 0, `${id}: no marks`);
        assert.ok(marks.width > 100 && marks.height > 50, `${id}: ${marks.width}×${marks.height}`);
      }
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000);
      // the README's picture: the top of the page (warnings, ranking, cost, latency, utilization)
      const top = join(dir, 'report-top.png');
      await page.screenshot({ path: top, fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 2100 } });
      mkdirSync(join(repoRoot, 'docs'), { recursive: true });
      copyFileSync(top, join(repoRoot, 'docs/report-screenshot.png'));
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
