/**
 * Go regular expressions (RE2 syntax) as JavaScript RegExps with the same
 * meaning: Go's escapes, classes, anchors and flags are rewritten, and what Go
 * rejects (lookaround, backreferences) is rejected here too. Matching is
 * unanchored in both. Inline flags work only at the start, as "(?ims)",
 * because Node 20's RegExp has no inline modifiers; (?U), negated POSIX
 * classes ([[:^alpha:]]) and flag groups elsewhere are rejected as unsupported.
 */

const GO_NAMED_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '\\x21-\\x7E',
  lower: 'a-z',
  print: '\\x20-\\x7E',
  punct: '\\x21-\\x2F\\x3A-\\x40\\x5B-\\x60\\x7B-\\x7E',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Go's \s is ASCII whitespace less \v; JavaScript's is all of Unicode's. */
const GO_SPACE = '\\t\\n\\f\\r ';

const GENERAL_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

/**
 * Punctuation a JavaScript 'u' pattern lets be escaped (and "-" only inside a
 * class); Go lets any ASCII punctuation be escaped, so the rest lose the backslash.
 */
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');
const jsEscapable = (c: string, inClass: boolean) => JS_SYNTAX.has(c) || (inClass && c === '-');

export function goRegexp(pattern: string): RegExp {
  const flags = new Set<string>();
  let i = 0;
  const leading = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]+))?\)/.exec(pattern);
  if (leading) {
    const [set, clear = ''] = [leading[1], leading[2]];
    for (const flag of set + clear) if (!'ims'.includes(flag)) throw new Error(`flag ${flag} is not supported`);
    for (const flag of set) if (!clear.includes(flag)) flags.add(flag);
    i = leading[0].length;
  }
  let out = '';
  let inClass = false;
  // Go reads "-" after a class such as \d or [:alpha:] as a literal; JavaScript rejects the range.
  const dashAfterSet = () => {
    if (pattern[i] === '-' && pattern[i + 1] !== ']') {
      out += '\\-';
      i++;
    }
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const isSet = 'dDwWsSpP'.includes(pattern[i + 1] ?? '-');
      const [text, next] = goEscape(pattern, i, inClass);
      out += text;
      i = next;
      if (inClass && isSet) dashAfterSet();
    } else if (inClass) {
      const named = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
      if (named) {
        if (named[1] || !(named[2] in GO_NAMED_CLASSES)) throw new Error(`unsupported character class ${named[0]}`);
        out += GO_NAMED_CLASSES[named[2]];
        i += named[0].length;
        dashAfterSet();
      } else {
        inClass = c !== ']';
        out += c;
        i++;
      }
    } else if (c === '[') {
      // Go takes a "]" right after "[" or "[^" as a literal.
      const open = /^\[\^?\]?/.exec(pattern.slice(i))![0];
      out += open.endsWith(']') ? `${open.slice(0, -1)}\\]` : open;
      inClass = true;
      i += open.length;
    } else if (c === '(' && pattern[i + 1] === '?') {
      const [text, next] = goGroup(pattern, i);
      out += text;
      i = next;
    } else if (c === '{') {
      const repeat = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (repeat && [repeat[1], repeat[3]].some((n) => n !== undefined && n !== '' && Number(n) > 1000)) {
        throw new Error(`invalid repeat count ${repeat[0]}`);
      }
      // Not a repetition: Go reads the brace literally.
      out += repeat ? repeat[0] : '\\{';
      i += repeat ? repeat[0].length : 1;
    } else {
      out += goPlain(c, flags);
      i++;
    }
  }
  // Multiline is done by goPlain's anchors: JavaScript's also break lines at \r.
  flags.delete('m');
  return new RegExp(out, ['u', ...flags].join(''));
}

/**
 * One character outside a class. Anchors become groups because Go lets an
 * assertion be repeated ("^*", "\b+") and JavaScript only a group.
 */
function goPlain(c: string, flags: Set<string>): string {
  const multiline = flags.has('m');
  switch (c) {
    case '.':
      return flags.has('s') ? '.' : '[^\\n]';
    case '^':
      return multiline ? '(?:(?<![^\\n]))' : '(?:^)';
    case '$':
      return multiline ? '(?:(?![^\\n]))' : '(?:$)';
    case '}':
    case ']':
      return `\\${c}`;
    default:
      return c;
  }
}

function goGroup(pattern: string, i: number): [string, number] {
  const rest = pattern.slice(i);
  if (rest.startsWith('(?:')) return ['(?:', i + 3];
  const named = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest);
  if (named) return [`(?<${named[1]}>`, i + named[0].length];
  if (/^\(\?<?[=!]/.test(rest)) throw new Error('lookaround assertions are not supported by RE2');
  if (/^\(\?[a-zA-Z-]*[:)]/.test(rest)) throw new Error('inline flags are supported only at the start of the pattern, as (?i), (?m) or (?s)');
  throw new Error(`invalid or unsupported Perl syntax ${rest.slice(0, 3)}`);
}

/** One escape sequence at `pattern[i]` ("\\"), in JavaScript form, and the index after it. */
function goEscape(pattern: string, i: number, inClass: boolean): [string, number] {
  const e = pattern[i + 1];
  if (e === undefined) throw new Error('trailing backslash at end of expression');
  const after = i + 2;
  if ('dDwW'.includes(e)) return [`\\${e}`, after];
  if (!inClass && 'bB'.includes(e)) return [`(?:\\${e})`, after];
  if ('fnrtv'.includes(e)) return [`\\${e}`, after];
  if (e === 'a') return ['\\x07', after];
  if (e === 's') return [inClass ? GO_SPACE : `[${GO_SPACE}]`, after];
  if (e === 'S') return [inClass ? '\\S' : `[^${GO_SPACE}]`, after];
  if (!inClass && e === 'A') return ['(?:(?<![\\s\\S]))', after];
  if (!inClass && e === 'z') return ['(?:(?![\\s\\S]))', after];
  if (!inClass && e === 'Q') {
    const end = pattern.indexOf('\\E', after);
    const literal = pattern.slice(after, end < 0 ? undefined : end);
    return [[...literal].map((c) => (JS_SYNTAX.has(c) ? `\\${c}` : c)).join(''), end < 0 ? pattern.length : end + 2];
  }
  if (e === 'x') {
    const braced = /^\{([0-9a-fA-F]+)\}/.exec(pattern.slice(after));
    if (braced) return [`\\u{${braced[1]}}`, after + braced[0].length];
    if (/^[0-9a-fA-F]{2}$/.test(pattern.slice(after, after + 2))) return [`\\x${pattern.slice(after, after + 2)}`, after + 2];
    throw new Error(`invalid escape sequence \\x${pattern.slice(after, after + 2)}`);
  }
  if (/[0-7]/.test(e)) {
    // \0 and \1 to \7 followed by an octal digit are octal; a lone \1 is a backreference.
    const octal = /^[0-7]{1,3}/.exec(pattern.slice(i + 1))![0];
    if (e !== '0' && octal.length === 1) throw new Error(`backreferences like \\${e} are not supported by RE2`);
    return [`\\u{${parseInt(octal, 8).toString(16)}}`, i + 1 + octal.length];
  }
  if (e === 'p' || e === 'P') return goUnicodeClass(pattern, i);
  if (e.charCodeAt(0) < 0x80 && !/[A-Za-z0-9]/.test(e)) return [jsEscapable(e, inClass) ? `\\${e}` : e, after];
  throw new Error(`invalid escape sequence \\${e}`);
}

/** \pL, \p{Greek}, \PN, \p{^Lu}: Go's Unicode classes as JavaScript property escapes. */
function goUnicodeClass(pattern: string, i: number): [string, number] {
  const match = /^\\([pP])(?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/.exec(pattern.slice(i));
  if (!match) throw new Error(`invalid character class range ${pattern.slice(i, i + 4)}`);
  const name = match[3] ?? match[4];
  const negated = (match[1] === 'P') !== (match[2] === '^');
  const property = name === 'Any' || GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
  return [`\\${negated ? 'P' : 'p'}{${property}}`, i + match[0].length];
}
