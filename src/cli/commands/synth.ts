import type { Command } from 'commander';

// Placeholder while the synth command is being written; replaced by its real implementation.
export function registerSynth(_program: Command): void {}
