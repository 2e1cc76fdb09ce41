/** Cost: the ledger, the simulation-to-ledger adapter and the candidate comparison. */
export * from './ledger.js';
export * from './from-simulation.js';
export * from './compare.js';
