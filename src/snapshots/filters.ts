import { invalidArgument } from './errors';
import { goRegexp } from './go-regexp';
import type { SnapshotInfo } from './types';

/**
 * containerd's filter language (Go package `filters`) for List, evaluated as
 * containerd's metadata store evaluates it for snapshots:
 *
 *   filters   := one string per alternative; any may match ([] or "" match all)
 *   filter    := selector ("," selector)*             all must match
 *   selector  := fieldpath [("==" | "!=" | "~=") value]
 *   fieldpath := field ("." field)*                   field: [A-Za-z0-9_]+ or "quoted"
 *   value     := runs of graphic characters up to "," or space, or "quoted";
 *                after ~= also /quoted/ or |quoted|
 *
 * Quoted strings use Go's escapes. Whitespace may precede a token but, as in
 * containerd's scanner, not follow a fieldpath or value. Fields are `kind`
 * (active | view | committed), `name`, `parent` ("" when there is none) and
 * `labels.KEY` (the path after `labels.` joined by dots is the key). A bare
 * selector tests presence; an absent field reads as "" for != and ~=, so
 * `labels.x!=y` matches snapshots without label x, and unknown fields never
 * match == or presence. Regular expressions are RE2 as in Go, translated once
 * to a JavaScript RegExp; unlike containerd 1.7, which logs an invalid one and
 * matches nothing, an invalid expression is rejected as InvalidArgument.
 */
export type SnapshotFilter = (info: SnapshotInfo) => boolean;

/** What no filter, or an empty one, parses to: callers may skip evaluating it. */
export const matchAll: SnapshotFilter = () => true;

/** Whether `filters` select every snapshot: none given, or an empty one (alternatives are or-ed). */
export function selectsAll(filters: string[]): boolean {
  return filters.length === 0 || filters.includes('');
}

/** Compiles filters once; throws InvalidArgument naming the position and problem of a syntax error. */
export function parseSnapshotFilters(filters: string[]): SnapshotFilter {
  // Every filter is parsed, as containerd's ParseAll does: a bad one is refused even beside an empty one.
  const alternatives = filters.map((filter) => (filter === '' ? matchAll : new Parser(filter).parse()));
  if (selectsAll(filters)) return matchAll;
  if (alternatives.length === 1) return alternatives[0];
  return (info) => alternatives.some((alternative) => alternative(info));
}

// ---------------------------------------------------------------------------
// Evaluation: containerd's snapshot adaptor, resolved at parse time.

/** A field's value, or undefined when the snapshot does not have it. */
type FieldReader = (info: SnapshotInfo) => string | undefined;

function fieldReader(path: string[]): FieldReader {
  switch (path[0]) {
    case 'kind':
      return (info) => info.kind;
    case 'name':
      return (info) => info.name;
    case 'parent':
      // Always present (containerd PR 3793), so parent=="" selects snapshots without one.
      return (info) => info.parent;
    case 'labels': {
      const key = path.slice(1).join('.');
      // Own properties only: a label named "constructor" must not find Object's.
      return (info) => (Object.hasOwn(info.labels, key) ? info.labels[key] : undefined);
    }
    default:
      return () => undefined;
  }
}

type Operator = '==' | '!=' | '~=';

function selectorFilter(path: string[], operator: Operator | undefined, value: string, regex: RegExp | undefined): SnapshotFilter {
  const read = fieldReader(path);
  switch (operator) {
    case undefined:
      return (info) => read(info) !== undefined;
    case '==':
      return (info) => read(info) === value;
    case '!=':
      return (info) => (read(info) ?? '') !== value;
    case '~=':
      return (info) => regex!.test(read(info) ?? '');
  }
}

function allOf(selectors: SnapshotFilter[]): SnapshotFilter {
  if (selectors.length === 1) return selectors[0];
  return (info) => selectors.every((selector) => selector(info));
}

// ---------------------------------------------------------------------------
// Scanner: a port of containerd's, rune for rune, so the same inputs are
// accepted and rejected. Positions are indexes into the JavaScript string.

const EOF = -1;
const ILLEGAL = -2;

type TokenKind = 'eof' | 'illegal' | 'quoted' | 'separator' | 'operator' | 'value' | 'field' | 'other';

interface Token {
  kind: TokenKind;
  pos: number;
  text: string;
}

const code = (c: string) => c.codePointAt(0)!;
const NEWLINE = code('\n');
const BACKSLASH = code('\\');
const COMMA = code(',');
const DOT = code('.');

const isQuoteRune = (r: number) => r === code('"') || r === code('/') || r === code('|');
const isSeparatorRune = (r: number) => r === COMMA || r === DOT;
const isOperatorRune = (r: number) => r === code('=') || r === code('!') || r === code('~');
// No "-": containerd 1.7 needs labels."foo-bar" quoted.
const isFieldRune = (r: number) => r >= 0 && /[A-Za-z0-9_]/.test(String.fromCodePoint(r));
// Go's unicode.IsSpace is exactly the Unicode White_Space property.
const isSpaceRune = (r: number) => r >= 0 && /\p{White_Space}/u.test(String.fromCodePoint(r));
// Go's letters, digits, numbers, graphics and punctuation, less "," and space.
const isValueRune = (r: number) => r >= 0 && r !== COMMA && !isSpaceRune(r) && /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(r));

function digitValue(r: number): number {
  const c = r >= 0 ? String.fromCodePoint(r) : '';
  return /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : 16;
}

class Scanner {
  /** Start of the current rune. */
  private pos = 0;
  /** End of the current rune: where the next one starts. */
  nextPos = 0;
  /** An operator was just read, so a bare word is a value (which may hold "=", "." or "/"). */
  private inValue = false;
  /** The first lexical error and where it is. */
  error: { pos: number; message: string } | undefined;

  constructor(private readonly input: string) {}

  next(): number {
    if (this.nextPos >= this.input.length) {
      this.pos = this.input.length;
      return EOF;
    }
    this.pos = this.nextPos;
    const r = this.input.codePointAt(this.pos)!;
    this.nextPos += r > 0xffff ? 2 : 1;
    if (r === 0) {
      this.fail('unexpected null character');
      return ILLEGAL;
    }
    return r;
  }

  /** The next rune, without skipping whitespace, and without consuming it. */
  peek(): number {
    const { pos, nextPos } = this;
    const r = this.next();
    this.pos = pos;
    this.nextPos = nextPos;
    return r;
  }

  scan(): Token {
    let r = this.next();
    let pos = this.pos;
    const token = (kind: TokenKind): Token => ({ kind, pos, text: this.input.slice(pos, this.nextPos) });
    for (;;) {
      if (r === EOF) return { kind: 'eof', pos: this.pos, text: '' };
      if (r === ILLEGAL) return { kind: 'illegal', pos: this.pos, text: '' };
      if (isQuoteRune(r)) return token(this.scanQuoted(r) ? 'quoted' : 'illegal');
      if (isSeparatorRune(r)) {
        this.inValue = false;
        return token('separator');
      }
      if (isOperatorRune(r)) {
        this.scanWhile(isOperatorRune);
        this.inValue = true;
        return token('operator');
      }
      if (!isSpaceRune(r)) break;
      r = this.next();
      pos = this.pos;
    }
    if (this.inValue) {
      this.scanWhile(isValueRune);
      this.inValue = false;
      return token('value');
    }
    if (isFieldRune(r)) {
      this.scanWhile(isFieldRune);
      return token('field');
    }
    return token('other');
  }

  private scanWhile(accept: (r: number) => boolean): void {
    while (accept(this.peek())) this.next();
  }

  /** Finds the end of a quoted literal, checking its escapes as Go's scanner does. */
  private scanQuoted(quote: number): boolean {
    const start = this.pos;
    let legal = true;
    let r = this.next();
    while (r !== quote) {
      if (r === NEWLINE || r < 0) {
        this.fail('quoted literal not terminated', start);
        return false;
      }
      if (r === BACKSLASH) {
        let escapeLegal: boolean;
        [r, escapeLegal] = this.scanEscape(quote);
        legal &&= escapeLegal;
      } else {
        r = this.next();
      }
    }
    return legal;
  }

  private scanEscape(quote: number): [number, boolean] {
    const r = this.next();
    const c = r >= 0 ? String.fromCodePoint(r) : '';
    if ((c !== '' && 'abfnrtv\\'.includes(c)) || r === quote) return [this.next(), true];
    if (/^[0-7]$/.test(c)) return this.scanDigits(r, 8, 3);
    if (c === 'x') return this.scanDigits(this.next(), 16, 2);
    if (c === 'u') return this.scanDigits(this.next(), 16, 4);
    if (c === 'U') return this.scanDigits(this.next(), 16, 8);
    this.fail('illegal escape sequence');
    return [r, false];
  }

  private scanDigits(r: number, base: number, count: number): [number, boolean] {
    for (; count > 0 && digitValue(r) < base; count--) r = this.next();
    if (count === 0) return [r, true];
    this.fail('illegal numeric escape sequence');
    return [r, false];
  }

  private fail(message: string, pos = this.pos): void {
    this.error ??= { pos, message };
  }
}

// ---------------------------------------------------------------------------
// Parser: containerd's grammar, compiling each selector as it is read.

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  parse(): SnapshotFilter {
    const selectors = [this.selector()];
    for (;;) {
      const r = this.scanner.peek();
      if (r === EOF) return allOf(selectors);
      if (r === ILLEGAL) throw this.error(this.scanner.nextPos, this.scanner.error!.message);
      if (r !== COMMA) throw this.error(this.scanner.nextPos, `unexpected input ${JSON.stringify(String.fromCodePoint(r))}`);
      this.scanner.scan();
      selectors.push(this.selector());
    }
  }

  private selector(): SnapshotFilter {
    const path = this.fieldpath();
    const r = this.scanner.peek();
    if (r === COMMA || r === EOF) return selectorFilter(path, undefined, '', undefined);
    const operator = this.operator();
    const valuePos = this.nextTokenPos();
    const value = this.value(operator === '~=');
    return selectorFilter(path, operator, value, operator === '~=' ? this.regex(valuePos, value) : undefined);
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.scanner.peek() === DOT) {
      this.scanner.scan();
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const token = this.scanner.scan();
    if (token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, false);
    throw this.unexpected(token, 'expected field or quoted');
  }

  private operator(): Operator {
    const token = this.scanner.scan();
    if (token.kind !== 'operator') throw this.unexpected(token, 'expected an operator ("=="|"!="|"~=")');
    if (token.text === '==' || token.text === '!=' || token.text === '~=') return token.text;
    throw this.error(token.pos, `unsupported operator ${JSON.stringify(token.text)}; expected "==", "!=" or "~="`);
  }

  private value(regexQuotesAllowed: boolean): string {
    const token = this.scanner.scan();
    if (token.kind === 'value' || token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, regexQuotesAllowed);
    throw this.unexpected(token, 'expected value or quoted');
  }

  private unquote(token: Token, regexQuotesAllowed: boolean): string {
    if (!regexQuotesAllowed && token.text[0] !== '"') {
      throw this.error(token.pos, `invalid quote encountered: ${token.text[0]}…${token.text[0]} quotes only a regular expression after ~=`);
    }
    try {
      return unquoteGo(token.text);
    } catch (err) {
      throw this.error(token.pos, `unquoting failed: ${(err as Error).message}`);
    }
  }

  private regex(pos: number, pattern: string): RegExp {
    try {
      return goRegexp(pattern);
    } catch (err) {
      throw this.error(pos, `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    }
  }

  /** Where the next token starts, past any whitespace. */
  private nextTokenPos(): number {
    let pos = this.scanner.nextPos;
    while (pos < this.input.length && isSpaceRune(this.input.codePointAt(pos)!)) pos++;
    return pos;
  }

  /** An error for a token the grammar did not expect, preferring the scanner's own diagnosis. */
  private unexpected(token: Token, expected: string) {
    const lexical = token.kind === 'illegal' ? this.scanner.error : undefined;
    if (lexical) return this.error(lexical.pos, lexical.message);
    return this.error(token.pos, token.kind === 'eof' ? `${expected}, found end of filter` : expected);
  }

  /** containerd's message, with the offending character marked: `[before >|c|< after]`. */
  private error(pos: number, message: string) {
    const marked = pos < this.input.length ? String.fromCodePoint(this.input.codePointAt(pos)!) : '';
    const where = marked
      ? `[${this.input.slice(0, pos)} >|${marked}|< ${this.input.slice(pos + marked.length)}]`
      : `[${this.input}]`;
    return invalidArgument(`filters: parse error at offset ${pos}: ${where}: ${message}`);
  }
}

// ---------------------------------------------------------------------------
// Go string literals: "…", and /…/ or |…| which quote like "…" but escape their
// own delimiter. \x and octal escapes are bytes, so "\xc3\xa9" is "é".

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

function unquoteGo(literal: string): string {
  const quote = literal[0];
  if (literal.length < 2 || literal[literal.length - 1] !== quote) throw new Error('quote syntax error');
  const body = [...literal.slice(1, -1)];
  const bytes: number[] = [];
  const utf8 = (cp: number) => bytes.push(...Buffer.from(String.fromCodePoint(cp)));
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === quote || c === '\n') throw new Error(`unescaped ${JSON.stringify(c)} in quoted string`);
    if (c !== '\\') {
      utf8(code(c));
      continue;
    }
    const e = body[++i] ?? '';
    if (e in SIMPLE_ESCAPES) bytes.push(SIMPLE_ESCAPES[e]);
    else if (e === quote) bytes.push(code(e));
    else if (/^[0-7]$/.test(e)) {
      const digits = body.slice(i, i + 3).join('');
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) throw new Error(`invalid octal escape \\${digits}`);
      bytes.push(parseInt(digits, 8));
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const width = { x: 2, u: 4, U: 8 }[e];
      const digits = body.slice(i + 1, i + 1 + width).join('');
      if (digits.length !== width || !/^[0-9a-fA-F]+$/.test(digits)) throw new Error(`invalid escape \\${e}${digits}`);
      const value = parseInt(digits, 16);
      if (e === 'x') bytes.push(value);
      else if (value > 0x10ffff) throw new Error(`escape \\${e}${digits} is beyond Unicode`);
      // Go encodes a surrogate code point as the replacement character.
      else utf8(value >= 0xd800 && value <= 0xdfff ? 0xfffd : value);
      i += width;
    } else throw new Error(`invalid escape \\${e}`);
  }
  return Buffer.from(bytes).toString('utf8');
}
