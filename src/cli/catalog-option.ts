import type { Command } from 'commander';

/** `--catalog <dir...>`: user catalog directories merged over the bundled one (private prices). */
export function addCatalogOption(cmd: Command): Command {
  return cmd.option(
    '--catalog <dir...>',
    'extra catalog directories (your own prices and hardware), merged over the bundled catalog',
  );
}
