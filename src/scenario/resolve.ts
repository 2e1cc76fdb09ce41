import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Catalog } from '../catalog/load.js';
import {
  instanceUsdPerHour,
  type Accelerator,
  type Instance,
  type Model,
  type PricingModel,
  type Stack,
} from '../catalog/schema.js';
import { InputError } from '../util/errors.js';
import type { SourceDocument } from './load.js';
import { formatPath, type DocPath } from './load.js';
import type { Candidate, Scenario } from './schema.js';

/** A candidate with its catalog facts looked up and its defaults decided. */
export interface ResolvedCandidate {
  spec: Candidate;
  name: string;
  modelKey: string;
  model: Model;
  /** The candidate serves a different model than the scenario's reference: a product change. */
  productChange: string[];
  instance: Instance | null;
  accelerator: Accelerator | null;
  stack: Stack | null;
  /** How the stack was chosen: named in the scenario, or the default for the accelerator. */
  stackChosenBy: 'scenario' | 'default' | 'none';
  /** Instance price per hour under the chosen pricing model (null for API and owned candidates). */
  instanceUsdPerHour: number | null;
  priceSource: 'catalog' | 'scenario' | 'none';
  chipsPerReplica: number;
}

export interface ResolvedScenario {
  scenario: Scenario;
  /** Absolute trace path, when the workload is a trace. */
  tracePath: string | null;
  model: Model;
  candidates: ResolvedCandidate[];
  warnings: string[];
}

/** Default stack per accelerator category / vendor (DESIGN §6: each hardware family's usual stack). */
function defaultStackKey(acc: Accelerator): string {
  if (acc.category === 'tpu') return 'jax-xla';
  if (acc.category === 'trainium' || acc.category === 'inferentia') return 'neuron';
  if (acc.vendor.toUpperCase() === 'AMD') return 'rocm-vllm';
  return 'vllm';
}

const PRICING_TO_CATALOG: Record<string, PricingModel | undefined> = {
  on_demand: 'onDemand',
  spot: 'spot',
  capacity_block: 'capacityBlock',
};

/**
 * Check a validated scenario against the catalog and the file system, filling in the defaults that
 * depend on them (stack per accelerator). Every problem is collected and reported with its position.
 */
export async function resolveScenario(
  scenario: Scenario,
  catalog: Catalog,
  src: SourceDocument,
  scenarioDir: string,
): Promise<ResolvedScenario> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const at = (path: DocPath, msg: string): void => {
    problems.push(`${src.locate(path)}: ${formatPath(path)}: ${msg}`);
  };
  const unknown = (path: DocPath, kind: 'models' | 'instances' | 'stacks', key: string): void => {
    const near = catalog.suggest(key, kind);
    at(
      path,
      `unknown ${kind.slice(0, -1)} "${key}"${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ''} (see \`pertoken catalog list ${kind}\`)`,
    );
  };

  const model = catalog.models.get(scenario.model);
  if (model === undefined) unknown(['model'], 'models', scenario.model);

  let tracePath: string | null = null;
  const trace = scenario.workload.trace;
  if (trace !== undefined) {
    tracePath = isAbsolute(trace.path) ? trace.path : resolve(scenarioDir, trace.path);
    try {
      await access(tracePath);
    } catch {
      at(['workload', 'trace', 'path'], `expected an existing trace file, found none at ${tracePath}`);
    }
  }

  const candidates: ResolvedCandidate[] = [];
  scenario.candidates.forEach((c, i) => {
    const base = ['candidates', i] as const;
    const modelKey = c.model ?? scenario.model;
    const cModel = c.model === undefined ? model : catalog.models.get(c.model);
    if (c.model !== undefined && cModel === undefined) unknown([...base, 'model'], 'models', c.model);
    const productChange: string[] = [];
    if (c.model !== undefined && c.model !== scenario.model)
      productChange.push(`serves ${c.model} instead of the reference ${scenario.model}`);

    let instance: Instance | null = null;
    let accelerator: Accelerator | null = null;
    let stack: Stack | null = null;
    let stackChosenBy: ResolvedCandidate['stackChosenBy'] = 'none';
    let usdPerHour: number | null = null;
    let priceSource: ResolvedCandidate['priceSource'] = 'none';

    if (c.instance !== undefined) {
      instance = catalog.instances.get(c.instance) ?? null;
      if (instance === null) unknown([...base, 'instance'], 'instances', c.instance);
      else accelerator = catalog.accelerators.get(instance.acceleratorKey) ?? null;
    }
    if (c.pricing.model === 'api' && c.instance !== undefined)
      at(
        [...base, 'instance'],
        'an API candidate has no hardware; remove `instance` or choose another pricing model',
      );

    if (accelerator !== null && instance !== null) {
      const stackKey = c.stack ?? defaultStackKey(accelerator);
      stackChosenBy = c.stack === undefined ? 'default' : 'scenario';
      stack = catalog.stacks.get(stackKey) ?? null;
      if (stack === null) unknown([...base, 'stack'], 'stacks', stackKey);
      else if (!stack.acceleratorCategories.includes(accelerator.category))
        at(
          [...base, 'stack'],
          `stack "${stack.key}" does not run on ${accelerator.name} (${accelerator.category}); it runs on ${stack.acceleratorCategories.join(', ')}`,
        );
      for (const [field, p] of [
        ['weights', c.precision.weights],
        ['kv', c.precision.kv],
      ] as const) {
        // fp16 runs wherever bf16 does at the same peak; the catalog lists bf16 only.
        const listed = p === 'fp16' ? 'bf16' : p;
        if (!accelerator.precisions.includes(listed))
          at(
            [...base, 'precision', field],
            `${accelerator.name} has no ${p} support in the catalog (it lists ${accelerator.precisions.join(', ')})`,
          );
        else if (stack !== null && !stack.precisions.includes(p) && !stack.precisions.includes(listed))
          at(
            [...base, 'precision', field],
            `stack "${stack.key}" does not support ${p} (it lists ${stack.precisions.join(', ')})`,
          );
      }
      const chips = c.parallelism.tp * c.parallelism.pp;
      if (chips > instance.chips)
        at(
          [...base, 'parallelism'],
          `tp × pp = ${chips} chips per replica, but ${instance.key} has ${instance.chips}; multi-instance replicas are not modelled`,
        );
      else if (instance.chips % chips !== 0)
        warnings.push(
          `${c.name}: ${instance.key} has ${instance.chips} chips; replicas of ${chips} leave ${instance.chips % chips} idle per instance`,
        );

      // Price under the chosen pricing model.
      if (c.pricing.usd_per_hour !== undefined) {
        usdPerHour = c.pricing.usd_per_hour;
        priceSource = 'scenario';
        if (c.pricing.source === undefined)
          warnings.push(
            `${c.name}: pricing.usd_per_hour is given without pricing.source; the report will mark it unsourced`,
          );
      } else if (c.pricing.model === 'reserved') {
        const m: PricingModel = c.pricing.term_years === 3 ? 'commit3yr' : 'commit1yr';
        usdPerHour = instanceUsdPerHour(instance, m);
        priceSource = 'catalog';
        if (usdPerHour === null)
          at(
            [...base, 'pricing', 'term_years'],
            `${instance.key} has no published ${c.pricing.term_years ?? 1}-year commitment price; give pricing.usd_per_hour with pricing.source`,
          );
      } else if (c.pricing.model !== 'owned' && c.pricing.model !== 'api') {
        const m = PRICING_TO_CATALOG[c.pricing.model]!;
        usdPerHour = instanceUsdPerHour(instance, m);
        priceSource = 'catalog';
        if (usdPerHour === null)
          at(
            [...base, 'pricing', 'model'],
            `${instance.key} has no published ${c.pricing.model} price; give pricing.usd_per_hour with pricing.source`,
          );
      }
    }
    if (cModel !== undefined)
      candidates.push({
        spec: c,
        name: c.name,
        modelKey,
        model: cModel,
        productChange,
        instance,
        accelerator,
        stack,
        stackChosenBy,
        instanceUsdPerHour: usdPerHour,
        priceSource,
        chipsPerReplica: c.parallelism.tp * c.parallelism.pp,
      });
  });

  if (problems.length > 0)
    throw new InputError(
      problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
  for (const c of candidates)
    if (c.productChange.length > 0)
      warnings.push(`${c.name}: product change — ${c.productChange.join('; ')}`);
  return { scenario, tracePath, model: model!, candidates, warnings };
}
