import { invalidArgument } from './errors';
import type { SnapshotInfo } from './types';

/**
 * containerd's filter language (package `filters`), evaluated against
 * snapshot infos as containerd's snapshot adaptor does:
 *
 *   filters  := one string per alternative; any may match
 *   filter   := selector ("," selector)*         all must match
 *   selector := fieldpath [("==" | "!=" | "~=") value]
 *   fieldpath:= field ("." field)*               field: [A-Za-z0-9_]+ or "quoted"
 *   value    := run of graphic runes up to "," or space, or quoted ("…", and
 *               for ~= also /…/ or |…|)
 *
 * A bare selector tests presence. Unlike containerd, which logs and matches
 * nothing, an invalid regular expression is rejected as InvalidArgument.
 */
export type SnapshotFilter = (info: SnapshotInfo) => boolean;

type Operator = 'present' | '==' | '!=' | '~=';

interface Selector {
  fieldpath: string[];
  operator: Operator;
  value: string;
  regex?: RegExp;
}

export function parseSnapshotFilters(filters: string[]): SnapshotFilter {
  if (filters.length === 0) return () => true;
  const alternatives = filters.map((filter) => (filter === '' ? [] : new Parser(filter).parse()));
  return (info) => alternatives.some((selectors) => selectors.every((s) => matches(s, info)));
}

function matches(selector: Selector, info: SnapshotInfo): boolean {
  const [value, present] = field(info, selector.fieldpath);
  switch (selector.operator) {
    case 'present':
      return present;
    case '==':
      return present && value === selector.value;
    case '!=':
      return value !== selector.value;
    case '~=':
      return selector.regex!.test(value);
  }
}

/** containerd's snapshot adaptor: which fields exist and their string values. */
function field(info: SnapshotInfo, path: string[]): [string, boolean] {
  switch (path[0]) {
    case 'kind':
      return [info.kind, true];
    case 'name':
      return [info.name, true];
    case 'parent':
      return [info.parent, true];
    case 'labels': {
      const key = path.slice(1).join('.');
      return Object.hasOwn(info.labels, key) ? [info.labels[key], true] : ['', false];
    }
    default:
      return ['', false];
  }
}

type TokenKind = 'eof' | 'quoted' | 'value' | 'field' | 'separator' | 'operator' | 'illegal';

interface Token {
  kind: TokenKind;
  pos: number;
  text: string;
}

const QUOTES = new Set(['"', '/', '|']);
const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
const isFieldChar = (c: string) => /^[A-Za-z0-9_]$/.test(c);
const isSpace = (c: string) => /^\s$/u.test(c);
const isValueChar = (c: string) => c !== ',' && !isSpace(c) && /^[\p{L}\p{N}\p{P}\p{S}\p{M}]$/u.test(c);

/** Tokens as containerd's scanner produces them, with a value mode after an operator. */
class Scanner {
  private pos = 0;
  private valueMode = false;
  error = '';

  constructor(private readonly input: string) {}

  peek(): string {
    const saved = { pos: this.pos, valueMode: this.valueMode, error: this.error };
    let next = this.input.charAt(this.pos);
    while (next !== '' && isSpace(next)) next = this.input.charAt(++this.pos);
    this.pos = saved.pos;
    this.valueMode = saved.valueMode;
    this.error = saved.error;
    return next;
  }

  scan(): Token {
    while (this.pos < this.input.length && isSpace(this.input[this.pos])) this.pos++;
    const start = this.pos;
    const c = this.input.charAt(this.pos);
    const token = (kind: TokenKind): Token => ({ kind, pos: start, text: this.input.slice(start, this.pos) });
    if (c === '') return token('eof');
    this.pos++;
    if (QUOTES.has(c)) return token(this.scanQuoted(c) ? 'quoted' : 'illegal');
    if (c === ',' || c === '.') {
      this.valueMode = false;
      return token('separator');
    }
    if (c === '=' || c === '!' || c === '~') {
      while ('=!~'.includes(this.input.charAt(this.pos)) && this.pos < this.input.length) this.pos++;
      this.valueMode = true;
      return token('operator');
    }
    if (this.valueMode) {
      while (this.pos < this.input.length && isValueChar(this.input[this.pos])) this.pos++;
      this.valueMode = false;
      return token('value');
    }
    if (isFieldChar(c)) {
      while (this.pos < this.input.length && isFieldChar(this.input[this.pos])) this.pos++;
      return token('field');
    }
    return { kind: 'illegal', pos: start, text: c };
  }

  private scanQuoted(quote: string): boolean {
    for (;;) {
      const c = this.input.charAt(this.pos++);
      if (c === '' || c === '\n') {
        this.error ||= 'quoted literal not terminated';
        this.pos = Math.min(this.pos, this.input.length);
        return false;
      }
      if (c === quote) return true;
      if (c === '\\') {
        const e = this.input.charAt(this.pos++);
        if (e in SIMPLE_ESCAPES || e === quote) continue;
        const digits = /[0-7]/.test(e) ? 2 : e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : -1;
        const digitPattern = /[0-7]/.test(e) ? /^[0-7]+$/ : /^[0-9a-fA-F]+$/;
        if (digits < 0 || !digitPattern.test(this.input.slice(this.pos, this.pos + digits)) || this.input.length < this.pos + digits) {
          this.error ||= digits < 0 ? 'illegal escape sequence' : 'illegal numeric escape sequence';
          return false;
        }
        this.pos += digits;
      }
    }
  }
}

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  parse(): Selector[] {
    const selectors = [this.selector()];
    for (;;) {
      const next = this.scanner.peek();
      if (next === '') return selectors;
      if (next !== ',') throw this.error(this.input.indexOf(next), `unexpected input: ${next}`);
      this.scanner.scan();
      selectors.push(this.selector());
    }
  }

  private selector(): Selector {
    const fieldpath = this.fieldpath();
    const next = this.scanner.peek();
    if (next === ',' || next === '') return { fieldpath, operator: 'present', value: '' };
    const operator = this.operator();
    const value = this.value(operator === '~=');
    if (operator !== '~=') return { fieldpath, operator, value };
    try {
      return { fieldpath, operator, value, regex: new RegExp(value, 'u') };
    } catch (err) {
      throw invalidArgument(`filters: invalid regular expression ${JSON.stringify(value)} in ${JSON.stringify(this.input)}: ${(err as Error).message}`);
    }
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.scanner.peek() === '.') {
      this.scanner.scan();
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const token = this.scanner.scan();
    if (token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, false);
    throw this.error(token.pos, token.kind === 'illegal' && this.scanner.error ? this.scanner.error : 'expected field or quoted');
  }

  private operator(): Exclude<Operator, 'present'> {
    const token = this.scanner.scan();
    if (token.kind === 'operator') {
      if (token.text === '==' || token.text === '!=' || token.text === '~=') return token.text;
      throw this.error(token.pos, `unsupported operator ${JSON.stringify(token.text)}`);
    }
    throw this.error(token.pos, 'expected an operator ("=="|"!="|"~=")');
  }

  private value(allowAltQuotes: boolean): string {
    const token = this.scanner.scan();
    if (token.kind === 'value' || token.kind === 'field') return token.text;
    if (token.kind === 'quoted') return this.unquote(token, allowAltQuotes);
    if (token.kind === 'eof') throw this.error(token.pos, 'unexpected end of filter: expected a value');
    throw this.error(token.pos, token.kind === 'illegal' && this.scanner.error ? this.scanner.error : 'expected value or quoted');
  }

  private unquote(token: Token, allowAltQuotes: boolean): string {
    const quote = token.text[0];
    if (!allowAltQuotes && quote !== '"') throw this.error(token.pos, 'invalid quote encountered');
    const body = token.text.slice(1, -1);
    let out = '';
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = body[++i];
      if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
      else if (e === quote) out += e;
      else {
        const octal = /[0-7]/.test(e);
        const digits = octal ? 3 : e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const start = octal ? i : i + 1;
        const code = parseInt(body.slice(start, start + digits), octal ? 8 : 16);
        if (code > 0x10ffff) throw this.error(token.pos, 'unquoting failed: invalid code point');
        out += String.fromCodePoint(code);
        i = start + digits - 1;
      }
    }
    return out;
  }

  private error(pos: number, message: string) {
    const at = pos < this.input.length ? `[${this.input.slice(0, pos)} >|${this.input[pos]}|< ${this.input.slice(pos + 1)}]` : `[${this.input}]`;
    return invalidArgument(`filters: parse error: ${at}: ${message}`);
  }
}
