import { loadCatalog, type Catalog } from '../catalog/load.js';
import { loadValidated } from './load.js';
import { resolveScenario, type ResolvedScenario } from './resolve.js';
import { scenarioSchema } from './schema.js';

export * from './schema.js';
export { loadValidated, SourceDocument, formatIssues, formatPath } from './load.js';
export * from './resolve.js';

/** Read, validate and resolve a scenario file against the catalog (bundled + user dirs). */
export async function loadScenario(
  file: string,
  opts: { catalog?: Catalog; catalogDirs?: string[] } = {},
): Promise<ResolvedScenario> {
  const { value, source, dir } = await loadValidated(file, scenarioSchema);
  const catalog = opts.catalog ?? (await loadCatalog({ extraDirs: opts.catalogDirs ?? [] }));
  const resolved = await resolveScenario(value, catalog, source, dir);
  resolved.warnings.unshift(...catalog.warnings);
  return resolved;
}
