import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { compareScenario, compareText } from '../../cost/index.js';
import { writeCompareHtml } from '../../report/html.js';
import { emit } from '../../util/output.js';

/** The bundled demo scenario (Azure 2023 conversation trace, Llama-3.1-70B, hardware candidates + an API line). */
export const DEMO_SCENARIO = fileURLToPath(new URL('../../../scenarios/demo.yaml', import.meta.url));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the bundled demo: the Azure conversation trace on Llama-3.1-70B candidates, costed over 30 days',
    )
    .option('--out <file>', 'where to write the HTML report', 'report.html')
    .action(async (opts: { out: string }) => {
      const t0 = performance.now();
      const r = await compareScenario(DEMO_SCENARIO, {
        onCandidate: (name: string) => process.stderr.write(`simulating ${name}…\n`),
      });
      const text = compareText(r);
      await emit(
        [
          'pertoken demo — the Azure LLM inference trace 2023 (conversation; Patel et al., Splitwise, ISCA 2024; CC-BY-4.0)',
          `served by Llama-3.1-70B on each candidate, cost per 1M accepted output tokens over a 30-day window`,
          '',
          text,
        ].join('\n'),
      );
      await writeCompareHtml(r, opts.out);
      process.stderr.write(`wrote ${opts.out}\n`);
      process.stderr.write(`demo done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    });
}
