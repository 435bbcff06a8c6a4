import { status } from '@grpc/grpc-js';
import { RemoteError } from '../client/remote-error';
import type { SnapshotsClient } from '../client/snapshots-client';
import type { SnapshotInfo } from '../snapshots/types';

/** containerd names the snapshots it makes `<namespace>/<n>/<key>`: its namespace, its own counter, the user's key. */
const CONTAINERD_NAME = /^([^/]+)\/\d+\/(.*)$/s;

function containerdKey(name: string): { namespace: string; key: string } | undefined {
  const match = CONTAINERD_NAME.exec(name);
  return match ? { namespace: match[1], key: match[2] } : undefined;
}

/** The quoted key of the server's `snapshot "KEY" does not exist` (parent too). */
const MISSING_KEY = /snapshot ("(?:[^"\\]|\\.)*") does not exist/;

/**
 * Keys as the user gives them to the CLI. Without a namespace they are
 * strata's own keys. With one (`--namespace`), they are containerd's keys
 * in that namespace, found under the names containerd gave them.
 */
export class SnapshotKeys {
  constructor(
    private readonly client: SnapshotsClient,
    readonly namespace?: string,
  ) {}

  /** strata's key of the existing snapshot `key` names. */
  async resolve(key: string): Promise<string> {
    if (this.namespace === undefined) return key;
    const names = await this.containerdNames(key, this.namespace);
    if (names.length === 1) return names[0];
    const what = `containerd key ${JSON.stringify(key)} in namespace ${JSON.stringify(this.namespace)}`;
    if (names.length === 0) throw new RemoteError(status.NOT_FOUND, `no snapshot has ${what} (strata key ${this.namespace}/<n>/${key})`);
    // containerd keeps one per key; more are left-overs its garbage collector has not removed yet.
    throw new Error(`several snapshots have ${what}: ${names.map((n) => JSON.stringify(n)).join(', ')}; give strata's key instead`);
  }

  /** Every snapshot, or with a namespace those containerd made in it, sorted by key. */
  async list(filters: string[] = []): Promise<SnapshotInfo[]> {
    const all: SnapshotInfo[] = [];
    for await (const info of this.client.list(filters)) {
      if (this.namespace === undefined || containerdKey(info.name)?.namespace === this.namespace) all.push(info);
    }
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * `err`, with a hint when it says a key given without a namespace does
   * not exist: the user most likely gave containerd's key for a snapshot
   * strata knows as `<namespace>/<n>/<key>`.
   */
  async explain(err: unknown): Promise<unknown> {
    if (!(err instanceof RemoteError) || err.code !== status.NOT_FOUND || this.namespace !== undefined) return err;
    const quoted = MISSING_KEY.exec(err.details);
    const names = quoted ? await this.containerdNames(JSON.parse(quoted[1]) as string).catch(() => []) : [];
    const rule = "strata keeps containerd's snapshots as <namespace>/<n>/<key>";
    const hint = names.length > 0
      ? `did you mean ${names.map((n) => JSON.stringify(n)).join(' or ')}? ${rule}: give -n ${containerdKey(names[0])!.namespace} to use containerd's key`
      : `${rule}: give -n NAMESPACE to use containerd's key`;
    return new RemoteError(err.code, `${err.details}; ${hint}`);
  }

  private async containerdNames(key: string, namespace?: string): Promise<string[]> {
    const names: string[] = [];
    for await (const info of this.client.list()) {
      const parsed = containerdKey(info.name);
      if (parsed?.key === key && (namespace === undefined || parsed.namespace === namespace)) names.push(info.name);
    }
    return names;
  }
}
