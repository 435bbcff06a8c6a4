import { InvalidArgumentError } from 'commander';
import type { Labels } from '../snapshots/types';

/** Splits `key=value` at the first `=`; `key=` has an empty value. */
export function parseLabel(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`label ${JSON.stringify(arg)}: expected key=value`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** Commander collector for a repeatable `--label key=value`; commander reports the failure with the option's name. */
export function collectLabel(arg: string, labels: Labels = {}): Labels {
  try {
    const [key, value] = parseLabel(arg);
    return { ...labels, [key]: value };
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
