/**
 * The floor of a snapshots server on this stack: grpc-js with strata's proto
 * layer, answering from a Map in memory, List from Infos encoded when they
 * were made. No validation, no metadata store, no fsync, no directories:
 * what Node.js and grpc-js cost per call, which no work strata does can go
 * below. snapshots.ts runs snapbench against it
 * beside strata and containerd.
 *
 * Given a root, it is the floor of a durable write instead: each write also
 * does the disk work containerd's overlayfs snapshotter does for it (strace
 * of refsnap): Prepare and View make the snapshot's dirs under a temporary
 * name and rename them to the id, Commit reads the upper dir's usage, and
 * every write commits one synchronous, fsynced transaction in strata's LMDB
 * store before answering: the snapshot's record and, for a child made or
 * removed, its parent's side of the link. What a write costs any server on
 * this stack that keeps containerd's promise, with nothing of strata's own
 * in it.
 *
 * With `--bare-http2` it answers over node:http2 without grpc-js
 * (bare-grpc.ts): the floor of Node.js's own transport.
 *
 *   node dist/scripts/bench/floor-server.js [--bare-http2] SOCKET [ROOT]
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serveBareHttp2 } from './bare-grpc';
import { infoField } from '../../src/server/list-responses';
import { encodeMessage, loadService, messageType, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE } from '../../src/server/proto';
import { nowNanos } from '../../src/snapshots/clock';
import { MetaStore } from '../../src/store/metastore';
import type { SnapshotRecord } from '../../src/store/records';

interface Entry {
  id: string;
  parent: string;
  kind: 'ACTIVE' | 'VIEW' | 'COMMITTED';
  /** Its Info as a field of a List response, encoded once when it is made. */
  listField: Buffer;
}

const BARE_HTTP2 = '--bare-http2';
const bareHttp2 = process.argv.includes(BARE_HTTP2);
const [socket, root] = process.argv.slice(2).filter((arg) => arg !== BARE_HTTP2);
const snapshots = new Map<string, Entry>();
const disk = root === undefined ? undefined : openDisk(root);
let lastId = 0;
const time = { seconds: Math.floor(Date.now() / 1000), nanos: 0 };
const MOUNTS = { mounts: [{ type: 'bind', source: '/var/lib/strata/snapshots/1/fs', target: '', options: ['rbind', 'rw'] }] };
const notFound = { code: grpc.status.NOT_FOUND, details: 'not found' };
const INFO = messageType(SNAPSHOTS_PROTO, 'containerd.services.snapshots.v1.Info');
const info = (name: string, parent: string, kind: Entry['kind']) => ({ name, parent, kind, created_at: time, updated_at: time, labels: {} });

function entry(id: string, name: string, parent: string, kind: Entry['kind']): Entry {
  return { id, parent, kind, listField: infoField(encodeMessage(INFO, info(name, parent, kind))) };
}

/** The store and the snapshots dir of a durable floor, and the disk work of each write. */
function openDisk(dir: string) {
  const snapshotsDir = path.join(dir, 'snapshots');
  fs.mkdirSync(snapshotsDir, { recursive: true });
  const store = MetaStore.open(path.join(dir, 'metadata'));
  const record = (id: string, kind: SnapshotRecord['kind'], parent: string): SnapshotRecord => {
    const now = nowNanos().toString();
    return { id, kind, parent, parentIds: [], labels: {}, created: now, updated: now, children: 0, size: 0, inodes: 0 };
  };
  /**
   * The parent's side of a child's creation or removal, in the same
   * transaction: every store keeps one, so a parent with children can be
   * refused removal (containerd's storage puts or deletes a backlink in its
   * parents bucket; strata counts children in the parent's record). Here the
   * parent's record is rewritten, as strata does.
   */
  const linkParent = (parent: string, parentId: string) => store.put(parent, record(parentId, 'committed', ''));
  return {
    async create(key: string, id: string, kind: 'active' | 'view', parent: string, parentId?: string): Promise<void> {
      const staged = path.join(snapshotsDir, `new-${id}`);
      fs.mkdirSync(staged, { mode: 0o700 });
      fs.mkdirSync(path.join(staged, 'fs'), { mode: 0o755 });
      if (parentId !== undefined) {
        const owner = fs.statSync(path.join(snapshotsDir, parentId, 'fs'));
        fs.lchownSync(path.join(staged, 'fs'), owner.uid, owner.gid);
      }
      if (kind === 'active') fs.mkdirSync(path.join(staged, 'work'), { mode: 0o711 });
      fs.renameSync(staged, path.join(snapshotsDir, id));
      await store.transact(() => {
        store.put(key, record(id, kind, parent));
        if (parentId !== undefined) linkParent(parent, parentId);
      });
    },
    async commit(key: string, name: string, id: string, parent: string): Promise<void> {
      fs.lstatSync(path.join(snapshotsDir, id, 'fs'));
      await store.transact(() => {
        store.delete(key);
        store.put(name, record(id, 'committed', parent));
      });
    },
    remove: (key: string, parent: string, parentId?: string) =>
      store.transact(() => {
        store.delete(key);
        if (parentId !== undefined) linkParent(parent, parentId);
      }),
  };
}

/** Answers `response` at once, or once the durable floor's disk `work` is done. */
function answer(callback: grpc.sendUnaryData<object>, response: object, work?: Promise<unknown>): void {
  if (work === undefined) return callback(null, response);
  work.then(
    () => callback(null, response),
    (err: Error) => callback({ code: grpc.status.INTERNAL, details: err.message }),
  );
}

type Unary = grpc.handleUnaryCall<any, object>;
const create = (kind: Entry['kind']): Unary => (call, callback) => {
  const { key, parent } = call.request;
  const id = String(++lastId);
  snapshots.set(key, entry(id, key, parent, kind));
  answer(callback, MOUNTS, disk?.create(key, id, kind === 'ACTIVE' ? 'active' : 'view', parent, snapshots.get(parent)?.id));
};

const implementation: Record<string, Unary | grpc.handleServerStreamingCall<any, object>> = {
  Prepare: create('ACTIVE'),
  View: create('VIEW'),
  Mounts: (_call, callback) => callback(null, MOUNTS),
  Commit: ((call, callback) => {
    const { key, name } = call.request;
    const active = snapshots.get(key);
    if (active === undefined) return callback(notFound);
    snapshots.delete(key);
    snapshots.set(name, entry(active.id, name, active.parent, 'COMMITTED'));
    answer(callback, {}, disk?.commit(key, name, active.id, active.parent));
  }) as Unary,
  Remove: ((call, callback) => {
    const removed = snapshots.get(call.request.key);
    if (removed === undefined) return callback(notFound);
    snapshots.delete(call.request.key);
    answer(callback, {}, disk?.remove(call.request.key, removed.parent, snapshots.get(removed.parent)?.id));
  }) as Unary,
  Stat: ((call, callback) => {
    const found = snapshots.get(call.request.key);
    if (found === undefined) return callback(notFound);
    callback(null, { info: info(call.request.key, found.parent, found.kind) });
  }) as Unary,
  Usage: (_call, callback) => callback(null, { size: '0', inodes: '0' }),
  Cleanup: (_call, callback) => callback(null, {}),
  List: ((call) => {
    // Batches of 100, as containerd's service and strata send them.
    let batch = [];
    for (const { listField } of snapshots.values()) {
      batch.push(listField);
      if (batch.length === 100) {
        call.write(Buffer.concat(batch));
        batch = [];
      }
    }
    if (batch.length > 0) call.write(Buffer.concat(batch));
    call.end();
  }) as grpc.handleServerStreamingCall<any, object>,
};

const service = loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE).service;
if (bareHttp2) {
  serveBareHttp2(socket, service, implementation);
} else {
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(service, implementation as grpc.UntypedServiceImplementation);
  server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
  });
}
process.on('SIGTERM', () => process.exit(0));
