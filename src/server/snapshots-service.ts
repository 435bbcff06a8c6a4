import type * as grpc from '@grpc/grpc-js';
import type { Snapshotter } from '../snapshots/snapshotter';
import { serverStream, unary, type CallObserver } from './handlers';
import { ListResponses } from './list-responses';
import {
  commitRequest,
  createRequest,
  emptyRequest,
  keyRequest,
  listRequest,
  toProtoInfo,
  toProtoMounts,
  toProtoUsage,
  updateRequest,
} from './snapshot-messages';

const SERVICE = 'snapshots';

/** containerd.services.snapshots.v1.Snapshots over a Snapshotter: translation only. */
export function snapshotsService(snapshotter: Snapshotter, observe: CallObserver): grpc.UntypedServiceImplementation {
  const listResponses = new ListResponses(snapshotter);
  return {
    Prepare: unary(SERVICE, 'Prepare', createRequest, async (r) => toProtoMounts(await snapshotter.prepare(r.key, r.parent, r.labels)), observe),
    View: unary(SERVICE, 'View', createRequest, async (r) => toProtoMounts(await snapshotter.view(r.key, r.parent, r.labels)), observe),
    Mounts: unary(SERVICE, 'Mounts', keyRequest, async (r) => toProtoMounts(await snapshotter.mounts(r.key)), observe),
    Commit: unary(SERVICE, 'Commit', commitRequest, async (r) => {
      await snapshotter.commit(r.name, r.key, r.labels, r.parent);
      return {};
    }, observe),
    Remove: unary(SERVICE, 'Remove', keyRequest, async (r) => {
      await snapshotter.remove(r.key);
      return {};
    }, observe),
    Stat: unary(SERVICE, 'Stat', keyRequest, (r) => ({ info: toProtoInfo(snapshotter.stat(r.key)) }), observe),
    Update: unary(SERVICE, 'Update', updateRequest, async (r) => {
      return { info: toProtoInfo(await snapshotter.update(r.info, r.update_mask?.paths ?? [])) };
    }, observe),
    List: serverStream(SERVICE, 'List', listRequest, (r) => listResponses.messages(r.filters), observe),
    Usage: unary(SERVICE, 'Usage', keyRequest, async (r) => toProtoUsage(await snapshotter.usage(r.key)), observe),
    Cleanup: unary(SERVICE, 'Cleanup', emptyRequest, async () => {
      await snapshotter.cleanup();
      return {};
    }, observe),
  };
}
