import { invalidArgument } from './errors';
import type { Labels } from './types';

/** containerd's limit on one label: key plus value, in bytes. */
export const MAX_LABEL_BYTES = 4096;

export function validateLabels(labels: Labels): void {
  for (const [key, value] of Object.entries(labels)) {
    if (key === '') throw invalidArgument('label key must not be empty');
    if (Buffer.byteLength(key) + Buffer.byteLength(value) > MAX_LABEL_BYTES) {
      throw invalidArgument(
        `label key and value greater than maximum size (${MAX_LABEL_BYTES} bytes), key: ${key.slice(0, 64)}`,
      );
    }
  }
}

/** Labels as stored: containerd treats an empty value as "no such label". */
export function withoutEmptyValues(labels: Labels): Labels {
  const kept: Labels = {};
  for (const [key, value] of Object.entries(labels)) if (value !== '') kept[key] = value;
  return kept;
}
