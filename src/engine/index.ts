export { simulate } from './simulate.js';
export type {
  AttemptsSummary,
  DebugOptions,
  PrefixCacheSummary,
  SimulationInput,
  SimulationSummary,
  UtilizationSummary,
} from './simulate.js';
export {
  DEFAULT_ENGINE_CONFIG,
  DEFAULT_RETRY,
  resolveEngineConfig,
  type EngineConfigInput,
} from './config.js';
export type * from './types.js';
export type { BoundaryInfo } from './replica.js';
export {
  makeAdmissionPolicy,
  makeBatchPolicy,
  makePreemptionPolicy,
  makeRouter,
  policyNames,
  registerAdmissionPolicy,
  registerBatchPolicy,
  registerPreemptionPolicy,
  registerRouter,
} from './policies/registry.js';
export { affinePerf, type AffinePerfSpec } from './affine.js';
export {
  engineConfigFor,
  explicitReplicasFor,
  openScenarioWorkload,
  replicaCountFor,
  replicaPerfFor,
  sloFor,
  type ScenarioWorkload,
} from './from-scenario.js';
export {
  describeSizing,
  describeTrials,
  MAX_AUTO_REPLICAS,
  sizeReplicas,
  SizingError,
  sizingTrialLine,
  trialRecords,
  type ReplicaSizing,
  type SizeReplicasOptions,
  type SizingTrial,
  type SizingTrialRecord,
} from './size-replicas.js';
export type { RequestRecord, SloSpec, Outcome, SloLimit } from '../metrics/types.js';
