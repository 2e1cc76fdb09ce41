import { InputError } from '../../util/errors.js';
import type { AdmissionPolicy, BatchPolicy, EngineConfig, PreemptionPolicy, Router } from '../types.js';
import { chunkedPrefill, inflightBatching, prefillFirst } from './batch.js';
import {
  fewestGenerated,
  leastKv,
  leastOutstanding,
  newestFirst,
  prefixAffinity,
  queueLimitAdmission,
  randomRouter,
  roundRobin,
  unlimitedAdmission,
} from './routing.js';

/**
 * Policies by name, like Vidur's and BLIS's registries: the scenario (or a flag) names a policy,
 * the engine builds it here. Routers are factories because most keep state (round-robin's turn).
 * `register*` adds a policy (library users, tests); names are unique.
 */
type Factory<T> = (config: EngineConfig) => T;

const batchPolicies = new Map<string, Factory<BatchPolicy>>([
  ['chunked-prefill', () => chunkedPrefill],
  ['prefill-first', () => prefillFirst],
  ['inflight-batching', () => inflightBatching],
]);
const routers = new Map<string, Factory<Router>>([
  ['round-robin', () => roundRobin()],
  ['random', () => randomRouter()],
  ['least-outstanding', () => leastOutstanding()],
  ['least-kv', () => leastKv()],
  ['prefix-affinity', (c) => prefixAffinity(c)],
]);
const admissionPolicies = new Map<string, Factory<AdmissionPolicy>>([
  ['unlimited', () => unlimitedAdmission],
  ['queue-limit', () => queueLimitAdmission],
]);
const preemptionPolicies = new Map<string, Factory<PreemptionPolicy>>([
  ['newest', () => newestFirst],
  ['fewest-generated', () => fewestGenerated],
]);

function add<T>(map: Map<string, Factory<T>>, kind: string, name: string, factory: Factory<T>): void {
  if (map.has(name)) throw new Error(`${kind} "${name}" is already registered`);
  map.set(name, factory);
}

function get<T>(map: Map<string, Factory<T>>, kind: string, name: string, config: EngineConfig): T {
  const f = map.get(name);
  if (f === undefined)
    throw new InputError(`unknown ${kind} "${name}"; expected one of ${[...map.keys()].join(', ')}`);
  return f(config);
}

export const registerBatchPolicy = (name: string, f: Factory<BatchPolicy>): void =>
  add(batchPolicies, 'batch policy', name, f);
export const registerRouter = (name: string, f: Factory<Router>): void => add(routers, 'router', name, f);
export const registerAdmissionPolicy = (name: string, f: Factory<AdmissionPolicy>): void =>
  add(admissionPolicies, 'admission policy', name, f);
export const registerPreemptionPolicy = (name: string, f: Factory<PreemptionPolicy>): void =>
  add(preemptionPolicies, 'preemption policy', name, f);

export const makeBatchPolicy = (c: EngineConfig): BatchPolicy =>
  get(batchPolicies, 'batch policy', c.batchPolicy, c);
export const makeRouter = (c: EngineConfig): Router => get(routers, 'router', c.router, c);
export const makeAdmissionPolicy = (c: EngineConfig): AdmissionPolicy =>
  get(admissionPolicies, 'admission policy', c.admission, c);
export const makePreemptionPolicy = (c: EngineConfig): PreemptionPolicy =>
  get(preemptionPolicies, 'preemption policy', c.preemption, c);

/** The registered names of each kind of policy. */
export function policyNames(): {
  batch: string[];
  router: string[];
  admission: string[];
  preemption: string[];
} {
  return {
    batch: [...batchPolicies.keys()],
    router: [...routers.keys()],
    admission: [...admissionPolicies.keys()],
    preemption: [...preemptionPolicies.keys()],
  };
}
