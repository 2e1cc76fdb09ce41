export * from './types.js';
export { LatencyHistogram } from './histogram.js';
export { WeightedIntDistribution } from './distribution.js';
export { BusyTimeline, ReplicaUsage, type ReplicaUsageSummary } from './usage.js';
export {
  classifyCompleted,
  sloFromScenarioBlock,
  sloMissOf,
  type PercentileCheck,
  type SloSummary,
} from './slo.js';
export { RequestMetrics, type LatencySummary, type RequestsSummary, type TokensSummary } from './requests.js';
