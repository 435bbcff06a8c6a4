import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Root, Service, type IConversionOptions, type Method, type Type } from 'protobufjs/light';
import { PACKAGE_ROOT } from '../package-root';

export const PROTO_ROOT = path.join(PACKAGE_ROOT, 'proto');
/** proto/ as JSON, written by `npm run build` (scripts/build/proto-json.ts): no .proto parser at run time. */
export const PROTO_JSON_ROOT = path.join(PACKAGE_ROOT, 'dist', 'proto');

/**
 * How messages decode, for server and client alike: int64 and enums as
 * strings, unset fields as their defaults, a oneof's set field named.
 */
const DECODE_OPTIONS: IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };

const roots = new Map<string, Root>();
const loaded = new Map<string, grpc.ServiceClientConstructor>();

/** One file of proto/ with its imports; read once per process. */
function loadRoot(file: string): Root {
  let root = roots.get(file);
  if (root === undefined) {
    root = Root.fromJSON(JSON.parse(fs.readFileSync(path.join(PROTO_JSON_ROOT, `${file}.json`), 'utf8')));
    roots.set(file, root);
  }
  return root;
}

/** One of the services in proto/, by file and fully-qualified name; loaded once per process. */
export function loadService(file: string, serviceName: string): grpc.ServiceClientConstructor {
  let constructor = loaded.get(serviceName);
  if (constructor === undefined) {
    const service = loadRoot(file).lookup(serviceName);
    if (!(service instanceof Service)) throw new Error(`service ${serviceName} not found in ${file}`);
    constructor = grpc.makeGenericClientConstructor(serviceDefinition(service, serviceName), serviceName);
    loaded.set(serviceName, constructor);
  }
  return constructor;
}

function serviceDefinition(service: Service, serviceName: string): grpc.ServiceDefinition {
  service.resolveAll();
  return Object.fromEntries(service.methodsArray.map((method) => [method.name, methodDefinition(method, serviceName)]));
}

function methodDefinition(method: Method, serviceName: string): grpc.MethodDefinition<object, object> {
  // resolveAll() has resolved both.
  const request = method.resolvedRequestType!;
  const response = method.resolvedResponseType!;
  return {
    path: `/${serviceName}/${method.name}`,
    requestStream: method.requestStream === true,
    responseStream: method.responseStream === true,
    requestSerialize: serializer(request),
    requestDeserialize: deserializer(request),
    responseSerialize: serializer(response),
    responseDeserialize: deserializer(response),
  };
}

/** A message type of one file in proto/, by fully-qualified name. */
export function messageType(file: string, typeName: string): Type {
  return loadRoot(file).lookupType(typeName);
}

/** A message as its wire bytes, for handlers that build a response from parts encoded earlier. */
export function encodeMessage(type: Type, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

function serializer(type: Type): (value: object) => Buffer {
  return (value) => {
    // Encoded already by the handler.
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`);
    // protobufjs writes into a Buffer under Node.js.
    return encodeMessage(type, value) as Buffer;
  };
}

function deserializer(type: Type): (bytes: Buffer) => object {
  return (bytes) => type.toObject(type.decode(bytes), DECODE_OPTIONS);
}

export const SNAPSHOTS_PROTO = 'containerd/services/snapshots/v1/snapshots.proto';
export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';

export const STATUS_PROTO = 'strata/v1/status.proto';
export const STATUS_SERVICE = 'strata.v1.Status';
