import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument } from '../snapshots/errors';

/** The digest algorithms of the OCI image spec. */
const ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

/**
 * A blob's bytes passed through while their digest and length are taken, so
 * a layer is checked against its descriptor as it is applied, without a
 * second read. A consumer that stops early (a tar reader at the end-of-
 * archive marker) does not end the source: `verify()` reads what is left.
 */
export class VerifiedSource implements AsyncIterable<Buffer> {
  private readonly algorithm: string;
  private readonly hash;
  private bytes = 0;
  /** A failed read is reported as itself, never as a mismatch of the bytes that did arrive. */
  private failure?: { error: unknown };
  private readonly source: AsyncIterator<Buffer>;

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly expected: { digest: string; size: number },
  ) {
    this.algorithm = expected.digest.slice(0, expected.digest.indexOf(':'));
    if (!ALGORITHMS.has(this.algorithm)) throw invalidArgument(`unsupported digest ${JSON.stringify(expected.digest)}`);
    this.hash = createHash(this.algorithm);
    this.source = source[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.next(),
      // Leaving the loop early must not close the source: verify() drains it.
      return: async () => ({ done: true, value: undefined }),
    };
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    if (this.failure) throw this.failure.error;
    let result: IteratorResult<Buffer>;
    try {
      result = await this.source.next();
    } catch (error) {
      this.failure = { error };
      throw error;
    }
    if (!result.done) {
      this.hash.update(result.value);
      this.bytes += result.value.length;
    }
    return result;
  }

  /** Reads the rest of the source and throws FailedPrecondition unless digest and size match the descriptor. */
  async verify(): Promise<void> {
    while (!(await this.next()).done);
    const digest = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (digest !== this.expected.digest) {
      throw failedPrecondition(`layer content has digest ${digest}, but its descriptor says ${this.expected.digest}`);
    }
    // containerd leaves the size out (0) when it does not know it.
    if (this.expected.size > 0 && this.bytes !== this.expected.size) {
      throw failedPrecondition(`layer content is ${this.bytes} bytes, but its descriptor says ${this.expected.size}`);
    }
  }
}
