/**
 * The performance model: memory plan and step time of a replica on any accelerator, with the
 * profile (measured / published fit / default) that says where its numbers come from.
 */
export * from './types.js';
export * from './kernels.js';
export * from './memory.js';
export * from './profile.js';
export * from './microbench.js';
export * from './calibrate.js';
export { ReplicaModel, buildReplicaModel, type StepBreakdown, type StepComponent } from './step.js';
export * from './profiles.js';
