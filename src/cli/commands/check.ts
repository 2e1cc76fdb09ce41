import type { Command } from 'commander';
import { stringify } from 'yaml';
import { z } from 'zod';
import { loadScenario, scenarioSchema, type ResolvedScenario } from '../../scenario/index.js';
import { addCatalogOption } from '../catalog-option.js';
import { emit, toJson } from '../../util/output.js';

/** The resolved scenario as data: the file with every default filled in, plus what the catalog decided. */
export function resolvedView(r: ResolvedScenario): Record<string, unknown> {
  return {
    ...r.scenario,
    workload: {
      ...r.scenario.workload,
      ...(r.tracePath === null ? {} : { trace: { ...r.scenario.workload.trace, path: r.tracePath } }),
    },
    resolved: {
      model: { key: r.model.key, name: r.model.name },
      candidates: r.candidates.map((c) => ({
        name: c.name,
        model: c.modelKey,
        product_change: c.productChange.length > 0 ? c.productChange : false,
        instance: c.instance?.key ?? null,
        accelerator:
          c.accelerator === null
            ? null
            : {
                key: c.accelerator.key,
                name: c.accelerator.name,
                chips_per_instance: c.instance?.chips ?? null,
              },
        stack: c.stack === null ? null : { key: c.stack.key, chosen_by: c.stackChosenBy },
        chips_per_replica: c.chipsPerReplica,
        pricing: c.spec.pricing.model,
        instance_usd_per_hour: c.instanceUsdPerHour,
        price_source: c.priceSource,
        price_evidence: c.instance === null ? null : c.instance.price.evidence,
      })),
    },
    warnings: r.warnings,
  };
}

/** The JSON Schema of scenario files, generated from the same zod schema that validates them. */
export function scenarioJsonSchema(): string {
  return JSON.stringify(z.toJSONSchema(scenarioSchema, { io: 'input' }), null, 2) + '\n';
}

export function registerCheck(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of scenario files (editors use it for completion)')
    .option('--out <file>', 'write to a file')
    .action(async (opts: { out?: string }) => emit(scenarioJsonSchema(), opts.out));

  const cmd = program
    .command('check')
    .description('Validate a scenario file and print it resolved, with every default filled in')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--json', 'print JSON instead of YAML');
  addCatalogOption(cmd).action(async (file: string, opts: { json?: boolean; catalog?: string[] }) => {
    const r = await loadScenario(file, { catalogDirs: opts.catalog ?? [] });
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const view = resolvedView(r);
    await emit(opts.json === true ? toJson(view) : stringify(view, { lineWidth: 0 }));
    process.stderr.write(
      `${file}: ok (${r.candidates.length} candidate${r.candidates.length === 1 ? '' : 's'})\n`,
    );
  });
}
