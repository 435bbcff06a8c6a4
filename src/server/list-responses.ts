import { Writer } from 'protobufjs/light';
import { selectsAll } from '../snapshots/filters';
import type { ListedSnapshot, Snapshotter } from '../snapshots/snapshotter';
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

/** The snapshots' names in store order and the List messages of all of them. */
interface ListOfAll {
  names: string[];
  messages: Buffer[];
}

/** What ListResponses reads: the snapshotter's List and the changes since the previous one. */
export type ListSource = Pick<Snapshotter, 'list' | 'listed' | 'names' | 'takeChangedNames'>;

/**
 * List responses as wire bytes, each Info encoded once per revision of its
 * snapshot. containerd lists every snapshot each time it collects garbage,
 * mostly right after a few were removed, and all the others are unchanged:
 * a List of all snapshots reads only those the store reports changed since
 * the previous one (and the names alone when some came or went) and sends
 * the earlier encodings of the rest. A List while a write is being committed
 * reads every record.
 */
export class ListResponses {
  readonly #infoType = messageType(SNAPSHOTS_PROTO, 'containerd.services.snapshots.v1.Info');
  /** By name, of the snapshots of #all. */
  #encoded = new Map<string, EncodedInfo>();
  #all?: ListOfAll;

  constructor(private readonly source: ListSource) {}

  /** ListSnapshotsResponse messages of the snapshots `filters` select. */
  messages(filters: string[]): Iterable<Uint8Array> {
    if (selectsAll(filters)) return this.#listOfAll().messages;
    // Filtered Lists reuse the encodings but never add to them.
    return batches(map(this.source.list(filters), (snapshot) => this.#encodedInfo(snapshot).field));
  }

  #listOfAll(): ListOfAll {
    const changed = this.source.takeChangedNames();
    this.#all = this.#all !== undefined && changed !== undefined ? this.#updated(this.#all, changed) : this.#readAll();
    return this.#all;
  }

  /** Every record read; encodings of removed snapshots are dropped. */
  #readAll(): ListOfAll {
    const encoded = new Map<string, EncodedInfo>();
    const names: string[] = [];
    for (const snapshot of this.source.list([])) {
      encoded.set(snapshot.name, this.#encodedInfo(snapshot));
      names.push(snapshot.name);
    }
    this.#encoded = encoded;
    return this.#listed(names);
  }

  #updated(all: ListOfAll, changed: Set<string>): ListOfAll {
    if (changed.size === 0) return all;
    let namesChanged = false;
    for (const name of changed) {
      const snapshot = this.source.listed(name);
      if (snapshot === undefined) {
        namesChanged = this.#encoded.delete(name) || namesChanged;
      } else {
        namesChanged ||= !this.#encoded.has(name);
        this.#encoded.set(name, this.#encodedInfo(snapshot));
      }
    }
    // The store's own order, read from its keys alone.
    return this.#listed(namesChanged ? [...this.source.names()] : all.names);
  }

  #listed(names: string[]): ListOfAll {
    return { names, messages: [...batches(names.map((name) => this.#encoded.get(name)!.field))] };
  }

  #encodedInfo(snapshot: ListedSnapshot): EncodedInfo {
    const known = this.#encoded.get(snapshot.name);
    if (known !== undefined && Buffer.compare(known.revision, snapshot.revision) === 0) return known;
    return { revision: snapshot.revision, field: infoField(encodeMessage(this.#infoType, toProtoInfo(snapshot.info))) };
  }
}

function* map<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

/** Info fields as ListSnapshotsResponse messages of LIST_BATCH each. */
function* batches(fields: Iterable<Buffer>): Generator<Buffer> {
  let batch: Buffer[] = [];
  let bytes = 0;
  for (const field of fields) {
    batch.push(field);
    bytes += field.length;
    if (batch.length === LIST_BATCH) {
      yield Buffer.concat(batch, bytes);
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield Buffer.concat(batch, bytes);
}

/** An encoded Info as one `info` field of a ListSnapshotsResponse: tag, length, message. */
export function infoField(info: Uint8Array): Buffer {
  const field = Writer.create().uint32(INFO_FIELD_TAG).bytes(info).finish();
  return Buffer.from(field.buffer, field.byteOffset, field.byteLength);
}
