/**
 * strata's default paths, apart from the schema so the CLI can name them in
 * its help without loading zod.
 */
export const DEFAULT_ROOT = '/var/lib/strata';
export const DEFAULT_ADDRESS = '/run/strata/strata.sock';
/** Where `strata serve` looks for a configuration file when none is named. */
export const DEFAULT_CONFIG_FILE = '/etc/strata/config.toml';
