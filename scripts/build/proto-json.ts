/**
 * `npm run build` step: every .proto file under proto/ (with what it
 * imports) as protobufjs JSON under dist/proto/, which src/server/proto.ts
 * loads. Parsing the .proto text instead cost strata's start-up more than
 * anything else it does before listening.
 *
 *   node dist/scripts/build/proto-json.js
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_JSON_ROOT, PROTO_ROOT } from '../../src/server/proto';

/** `file` (relative to proto/) and its imports as protobufjs JSON; field names kept as written. */
export function protoJson(file: string): protobuf.INamespace {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_ROOT, target));
  root.loadSync(file, { keepCase: true });
  return root.toJSON();
}

/** Every .proto file under proto/, relative to it. */
export function protoFiles(): string[] {
  return (fs.readdirSync(PROTO_ROOT, { recursive: true }) as string[]).filter((file) => file.endsWith('.proto')).sort();
}

if (require.main === module) {
  for (const file of protoFiles()) {
    const target = path.join(PROTO_JSON_ROOT, `${file}.json`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, JSON.stringify(protoJson(file)));
  }
}
