import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import Table from 'cli-table3';
import { loadScenario, type ResolvedCandidate } from '../../scenario/index.js';
import { profileTrace } from '../../workload/profile.js';
import { profileMarkdown } from '../../report/profile-markdown.js';
import { profileText } from './profile.js';
import { emit } from '../../util/output.js';

/** The bundled demo scenario (Azure 2023 conversation trace, Llama-3.1-70B, six hardware candidates). */
export const DEMO_SCENARIO = fileURLToPath(new URL('../../../scenarios/demo.yaml', import.meta.url));

function candidateTable(cands: ResolvedCandidate[]): string {
  const t = new Table({
    head: [
      'candidate',
      'instance',
      'accelerator',
      'chips/replica',
      'stack',
      'pricing',
      '$/instance-hour',
      'evidence',
    ],
    style: { head: [], border: [], compact: true },
  });
  for (const c of cands)
    t.push([
      c.name,
      c.instance?.key ?? '–',
      c.accelerator?.name ?? '–',
      c.chipsPerReplica,
      c.stack === null ? '–' : `${c.stack.key}${c.stackChosenBy === 'default' ? ' (default)' : ''}`,
      c.spec.pricing.model,
      c.instanceUsdPerHour === null ? '–' : c.instanceUsdPerHour.toFixed(2),
      c.instance?.price.evidence.default ?? '–',
    ]);
  return t.toString();
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the bundled demo: profile the bundled Azure trace and resolve the demo candidates')
    .option('--markdown <file>', 'also write the trace profile as Markdown', 'demo-profile.md')
    .action(async (opts: { markdown: string }) => {
      const r = await loadScenario(DEMO_SCENARIO);
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      const profile = await profileTrace(relative(process.cwd(), r.tracePath!) || r.tracePath!, {
        format: r.scenario.workload.trace?.format ?? 'azure',
      });
      await emit(
        [
          `pertoken demo — ${r.scenario.name}`,
          '',
          'Workload (Azure LLM inference trace 2023, conversation; Patel et al., Splitwise, ISCA 2024; CC-BY-4.0):',
          profileText(profile),
          '',
          `Model ${r.model.name}; SLO P95 TTFT ${r.scenario.slo.ttft_p95_s ?? '–'} s, P95 TPOT ${r.scenario.slo.tpot_p95_s ?? '–'} s; window ${r.scenario.window.days} days.`,
          '',
          'Candidates (catalog facts with their evidence level):',
          candidateTable(r.candidates),
          '',
        ].join('\n'),
      );
      await emit(profileMarkdown(profile), opts.markdown);
    });
}
