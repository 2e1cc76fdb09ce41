import type { Command } from 'commander';

// Placeholder while the catalog command is being written; replaced by its real implementation.
export function registerCatalog(_program: Command): void {}
