import { createHash } from 'node:crypto';

/** Takes the sha256 and size of a byte stream on its way through (a layer's DiffID, a written file's digest). */
export class DigestTap {
  private readonly hash = createHash('sha256');
  private digested?: string;
  size = 0;

  async *tap(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.hash.update(chunk);
      this.size += chunk.length;
      yield chunk;
    }
  }

  /** Valid once the stream has been read to its end. */
  digest(): string {
    return (this.digested ??= `sha256:${this.hash.digest('hex')}`);
  }
}
