import { Writer } from 'protobufjs/light';
import type { ListedSnapshot } from '../snapshots/snapshotter';
import { encodeMessage, messageType, SNAPSHOTS_PROTO } from './proto';
import { toProtoInfo } from './snapshot-messages';

/** Infos per List message, as containerd's own snapshot service batches them. */
const LIST_BATCH = 100;
/** ListSnapshotsResponse's `info` field (1), length-delimited, as its tag. */
const INFO_FIELD_TAG = (1 << 3) | 2;

interface EncodedInfo {
  revision: Uint8Array;
  /** infoField() of the Info. */
  field: Buffer;
}

/**
 * List responses as wire bytes, each Info encoded once per revision of its
 * snapshot. containerd lists every snapshot each time it collects garbage,
 * and almost all of them are unchanged since the last List: encoding their
 * Infos again cost more than reading them.
 */
export class ListResponses {
  readonly #infoType = messageType(SNAPSHOTS_PROTO, 'containerd.services.snapshots.v1.Info');
  /** By name; replaced by each List of all snapshots, so removed ones do not linger. */
  #encoded = new Map<string, EncodedInfo>();

  /** `snapshots` as ListSnapshotsResponse messages. `all`: they are every snapshot there is. */
  *messages(snapshots: Iterable<ListedSnapshot>, all: boolean): Generator<Uint8Array> {
    const seen = all ? new Map<string, EncodedInfo>() : undefined;
    let batch: Buffer[] = [];
    let bytes = 0;
    for (const snapshot of snapshots) {
      const encoded = this.#encodedInfo(snapshot);
      seen?.set(snapshot.name, encoded);
      batch.push(encoded.field);
      bytes += encoded.field.length;
      if (batch.length === LIST_BATCH) {
        yield Buffer.concat(batch, bytes);
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0) yield Buffer.concat(batch, bytes);
    if (seen) this.#encoded = seen;
  }

  #encodedInfo(snapshot: ListedSnapshot): EncodedInfo {
    const known = this.#encoded.get(snapshot.name);
    if (known !== undefined && Buffer.compare(known.revision, snapshot.revision) === 0) return known;
    return { revision: snapshot.revision, field: infoField(encodeMessage(this.#infoType, toProtoInfo(snapshot.info))) };
  }
}

/** An encoded Info as one `info` field of a ListSnapshotsResponse: tag, length, message. */
export function infoField(info: Uint8Array): Buffer {
  const field = Writer.create().uint32(INFO_FIELD_TAG).bytes(info).finish();
  return Buffer.from(field.buffer, field.byteOffset, field.byteLength);
}
