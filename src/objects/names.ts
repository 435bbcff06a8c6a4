/**
 * How objects are named, and the xattrs that tie a stub to its object.
 *
 * An object is named by the first 132 bits of its sha256 in base64url,
 * fanned out over 64 directories by its first character:
 * `A/bCdEfGhIjKlMnOpQrSt`. A stub's redirect (`/A/bCdE…`, 24 bytes) then keeps both overlay xattrs inside a
 * 256-byte ext4 inode; the 64-hex digest pushed them into a block of their
 * own per file. The full digest is kept on the object (DIGEST_XATTR) and
 * compared on every reuse, so a truncated-name collision fails the write
 * instead of serving the wrong content.
 */
export const METACOPY_XATTR = 'trusted.overlay.metacopy';
export const REDIRECT_XATTR = 'trusted.overlay.redirect';
export const DIGEST_XATTR = 'trusted.strata.sha256';

const FANOUT_CHARS = 1;
const NAME_CHARS = 22;
const NAME_PATTERN = /^[A-Za-z0-9_-]\/[A-Za-z0-9_-]{21}$/;

/** Every fan-out directory, made with the store: none is created while a layer is written. */
export const FANOUT_DIRS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];

/** The object name for a sha256 digest (32 bytes). */
export function objectName(sha256: Buffer): string {
  const text = sha256.toString('base64url').slice(0, NAME_CHARS);
  return `${text.slice(0, FANOUT_CHARS)}/${text.slice(FANOUT_CHARS)}`;
}

export function isObjectName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** The redirect a stub carries: absolute, resolved from the data-only layer's root. */
export function redirectTo(name: string): string {
  return `/${name}`;
}

/** The object a stub's redirect names, or undefined when it is no object redirect. */
export function objectOfRedirect(redirect: Buffer | string): string | undefined {
  const text = redirect.toString();
  const name = text.slice(1);
  return text.startsWith('/') && isObjectName(name) ? name : undefined;
}
