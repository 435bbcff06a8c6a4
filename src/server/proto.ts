import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PACKAGE_ROOT } from '../package-root';

export const PROTO_ROOT = path.join(PACKAGE_ROOT, 'proto');

/** Loader options shared by server and client so both see the same message shapes. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

/** Loads one of containerd's services from proto/ by file and fully-qualified name. */
export function loadService(file: string, serviceName: string): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(path.join(PROTO_ROOT, file), LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition);
  const service = serviceName.split('.').reduce<any>((scope, part) => scope?.[part], loaded);
  if (typeof service !== 'function') throw new Error(`service ${serviceName} not found in ${file}`);
  return service as grpc.ServiceClientConstructor;
}

export const SNAPSHOTS_PROTO = 'containerd/services/snapshots/v1/snapshots.proto';
export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';
