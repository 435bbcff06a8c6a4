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

/** The messages of a List of all snapshots, and the store generation they were read at. */
interface ListOfAll {
  generation: number;
  messages: Buffer[];
}

/**
 * List responses as wire bytes, each Info encoded once per revision of its
 * snapshot. containerd lists every snapshot each time it collects garbage,
 * and almost all of them are unchanged since the last List: encoding their
 * Infos again cost more than reading them. A List of all snapshots with no
 * change since the previous one (an equal store generation) sends that
 * List's messages again without reading the store.
 */
export class ListResponses {
  readonly #infoType = messageType(SNAPSHOTS_PROTO, 'containerd.services.snapshots.v1.Info');
  /** By name; replaced by each List of all snapshots, so removed ones do not linger. */
  #encoded = new Map<string, EncodedInfo>();
  #lastListOfAll?: ListOfAll;

  /**
   * `list()`'s snapshots as ListSnapshotsResponse messages. `all`: they are
   * every snapshot there is. `generation`: the store's (Snapshotter.generation)
   * before `list()` is called.
   */
  *messages(list: () => Iterable<ListedSnapshot>, all: boolean, generation: number): Generator<Uint8Array> {
    if (all && this.#lastListOfAll?.generation === generation) {
      yield* this.#lastListOfAll.messages;
      return;
    }
    const seen = all ? new Map<string, EncodedInfo>() : undefined;
    const messages: Buffer[] = [];
    let batch: Buffer[] = [];
    let bytes = 0;
    for (const snapshot of list()) {
      const encoded = this.#encodedInfo(snapshot);
      seen?.set(snapshot.name, encoded);
      batch.push(encoded.field);
      bytes += encoded.field.length;
      if (batch.length === LIST_BATCH) {
        messages.push(Buffer.concat(batch, bytes));
        yield messages[messages.length - 1];
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length > 0) {
      messages.push(Buffer.concat(batch, bytes));
      yield messages[messages.length - 1];
    }
    if (seen) {
      this.#encoded = seen;
      this.#lastListOfAll = { generation, messages };
    }
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
