import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSnapshotError } from '../../src/snapshots/errors';
import { parseSnapshotFilters } from '../../src/snapshots/filters';
import type { SnapshotInfo } from '../../src/snapshots/types';

const snapshot = (name: string, rest: Partial<SnapshotInfo>): SnapshotInfo => ({
  name,
  parent: '',
  kind: 'committed',
  labels: {},
  createdAt: 0n,
  updatedAt: 0n,
  ...rest,
});

const corpus: SnapshotInfo[] = [
  snapshot('root', { labels: { 'containerd.io/gc.root': '2024-01-01', team: 'infra' } }),
  snapshot('layer', { parent: 'root', labels: { 'a.b': 'x y', tier: 'gold' } }),
  snapshot('default/7/work', {
    parent: 'layer',
    kind: 'active',
    labels: { 'containerd.io/snapshot/remote': 'true', team: 'apps', 'more complex label with \\ and "': 'present' },
  }),
  snapshot('look', { parent: 'layer', kind: 'view', labels: { é: 'ü', line: 'a\nb', cr: 'a\rb', 'foo-bar': 'dash' } }),
  snapshot('extract-1 sha256:abc', { kind: 'active' }),
];
const all = corpus.map((s) => s.name);

/** Names of the corpus snapshots the filters select. */
function select(...filters: string[]): string[] {
  return corpus.filter(parseSnapshotFilters(filters)).map((s) => s.name);
}

function rejects(filter: string, message: RegExp): void {
  assert.throws(
    () => parseSnapshotFilters([filter]),
    (err: unknown) => {
      assert.ok(isSnapshotError(err, 'InvalidArgument'), `expected InvalidArgument, got ${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('parseSnapshotFilters: presence and empty filters', () => {
  it('matches everything with no filters or only empty ones', () => {
    assert.deepEqual(select(), all);
    assert.deepEqual(select(''), all);
    assert.deepEqual(select('', 'name==root'), all);
  });

  it('treats kind, name and parent as always present', () => {
    assert.deepEqual(select('name'), all);
    assert.deepEqual(select('kind'), all);
    assert.deepEqual(select('parent'), all);
  });

  it('tests label presence, and unknown fields are never present', () => {
    assert.deepEqual(select('labels.team'), ['root', 'default/7/work']);
    assert.deepEqual(select('labels'), []);
    assert.deepEqual(select('bogus'), []);
  });

  it('does not see labels through the object prototype', () => {
    assert.deepEqual(select('labels.constructor'), []);
    assert.deepEqual(select('labels.toString==x'), []);
    assert.deepEqual(select('labels.constructor!=x'), all);
  });
});

describe('parseSnapshotFilters: == and !=', () => {
  it('compares names, kinds and parents', () => {
    assert.deepEqual(select('name==root'), ['root']);
    assert.deepEqual(select('name==default/7/work'), ['default/7/work']);
    assert.deepEqual(select('name=="extract-1 sha256:abc"'), ['extract-1 sha256:abc']);
    assert.deepEqual(select('kind==active'), ['default/7/work', 'extract-1 sha256:abc']);
    assert.deepEqual(select('kind==view'), ['look']);
    assert.deepEqual(select('kind==committed'), ['root', 'layer']);
    assert.deepEqual(select('kind==Active'), []);
    assert.deepEqual(select('parent==layer'), ['default/7/work', 'look']);
  });

  it('selects snapshots with and without a parent by parent=="" and parent!=""', () => {
    assert.deepEqual(select('parent==""'), ['root', 'extract-1 sha256:abc']);
    assert.deepEqual(select('parent!=""'), ['layer', 'default/7/work', 'look']);
  });

  it('compares label values', () => {
    assert.deepEqual(select('labels.team==infra'), ['root']);
    assert.deepEqual(select('labels."containerd.io/snapshot/remote"==true'), ['default/7/work']);
  });

  it('reads an absent field as "" for != but never matches == on it', () => {
    assert.deepEqual(select('labels.team!=infra'), ['layer', 'default/7/work', 'look', 'extract-1 sha256:abc']);
    assert.deepEqual(select('name!=root'), all.filter((n) => n !== 'root'));
    assert.deepEqual(select('bogus!=x'), all);
    assert.deepEqual(select('bogus==x'), []);
    assert.deepEqual(select('bogus!=""'), []);
  });
});

describe('parseSnapshotFilters: quoting', () => {
  it('joins an unquoted dotted label path into one key', () => {
    assert.deepEqual(select('labels.a.b=="x y"'), ['layer']);
    assert.deepEqual(select('labels."a.b"=="x y"'), ['layer']);
  });

  it('quotes label keys with slashes, dashes, spaces and escapes', () => {
    assert.deepEqual(select('labels."containerd.io/gc.root"'), ['root']);
    assert.deepEqual(select('labels."foo-bar"==dash'), ['look']);
    assert.deepEqual(select(String.raw`labels."more complex label with \\ and \""==present`), ['default/7/work']);
  });

  it('decodes Go escapes, with \\x and octal as UTF-8 bytes', () => {
    assert.deepEqual(select(String.raw`labels."\u00e9"=="\xc3\xbc"`), ['look']);
    assert.deepEqual(select(String.raw`labels."\303\251"=="\U000000fc"`), ['look']);
    assert.deepEqual(select(String.raw`labels.team=="\x61pps"`), ['default/7/work']);
    assert.deepEqual(select(String.raw`labels.line=="a\nb"`), ['look']);
  });

  it('keeps "=", "." and "/" inside a bare value', () => {
    assert.deepEqual(select('labels."containerd.io/gc.root"==2024-01-01'), ['root']);
    assert.deepEqual(select('name==root=x'), []);
  });
});

describe('parseSnapshotFilters: ~= (Go regular expressions)', () => {
  it('searches unanchored, like Go MatchString', () => {
    assert.deepEqual(select('name~=oo'), ['root', 'look']);
    assert.deepEqual(select('name~=^l'), ['layer', 'look']);
    assert.deepEqual(select('kind~=^(view|committed)$'), ['root', 'layer', 'look']);
  });

  it('accepts /…/ and |…| quotes and Go-escaped double quotes', () => {
    assert.deepEqual(select('name~=/^(root|look)$/'), ['root', 'look']);
    assert.deepEqual(select('name~=|^ro|'), ['root']);
    assert.deepEqual(select(String.raw`name~=|^(root\x7clook)$|`), ['root', 'look'], 'an escaped bar inside |…|');
    assert.deepEqual(select(String.raw`name~=/^default\/7/`), ['default/7/work']);
    assert.deepEqual(select(String.raw`name~="^extract-\\d+ "`), ['extract-1 sha256:abc']);
    assert.deepEqual(select(String.raw`labels."containerd.io/gc.root"~=^\d{4}-`), ['root']);
  });

  it('matches absent fields against ""', () => {
    assert.deepEqual(select('labels.team~=^$'), ['layer', 'look', 'extract-1 sha256:abc']);
  });

  it('keeps RE2 meaning where JavaScript differs', () => {
    assert.deepEqual(select('labels.team~=(?i)^INFRA$'), ['root']);
    assert.deepEqual(select('labels.line~=^b'), [], '^ is start of text without (?m)');
    assert.deepEqual(select('labels.line~=(?m)^b$'), ['look']);
    assert.deepEqual(select('labels.cr~=(?m)^b'), [], 'Go breaks lines only at \\n');
    assert.deepEqual(select('labels.line~=a.b'), [], '. does not match \\n');
    assert.deepEqual(select('labels.cr~=a.b'), ['look'], '. matches \\r in Go');
    assert.deepEqual(select('labels.line~=(?s)a.b'), ['look']);
    assert.deepEqual(select(String.raw`labels.team~=\Aapps\z`), ['default/7/work']);
    assert.deepEqual(select('labels.team~=(?P<t>inf)ra'), ['root']);
    assert.deepEqual(select('labels.tier~=^[[:lower:]]+$'), ['layer']);
    assert.deepEqual(select(String.raw`labels."é"~=^\pL$`), ['look']);
    assert.deepEqual(select(String.raw`labels."a.b"~=^x\sy$`), ['layer']);
    assert.deepEqual(select(String.raw`labels."a.b"~=^x\-?`), ['layer'], 'Go lets any punctuation be escaped');
    assert.deepEqual(select('name~=^[]r]oot'), ['root'], '] first in a class is a literal');
    assert.deepEqual(select('name~=/^ro{,2}/'), [], 'a brace that is no repetition is a literal');
    assert.deepEqual(select('name~="^ro{,2}|^lo{,2}"'), []);
    assert.deepEqual(select(String.raw`name~=t[\d-z]`), ['extract-1 sha256:abc'], '- after \\d is a literal');
    assert.deepEqual(select(String.raw`name~=^\b+r`), ['root'], 'assertions may be repeated');
  });

  it('rejects what RE2 rejects and what it cannot translate', () => {
    rejects('name~=(', /offset 6: \[name~= >\|\(\|< \]: invalid regular expression "\(": .*Unterminated group/);
    rejects('name~=(?=x)', /lookaround assertions are not supported/);
    rejects(String.raw`name~=(a)\1`, /backreferences .* are not supported/);
    rejects('name~=a{1001}', /invalid repeat count/);
    rejects('name~=(?U)a+', /flag U is not supported/);
    rejects('name~=a(?i)b', /inline flags are supported only at the start/);
    rejects('name~=[[:^alpha:]]', /unsupported character class \[:\^alpha:\]/);
    rejects(String.raw`name~=\C`, /invalid escape sequence \\C/);
  });
});

describe('parseSnapshotFilters: combining selectors', () => {
  it('ANDs selectors within a filter', () => {
    assert.deepEqual(select('kind==committed,labels.team'), ['root']);
    assert.deepEqual(select('kind==active,parent==""'), ['extract-1 sha256:abc']);
    assert.deepEqual(select('name==root,name==look'), []);
  });

  it('ORs filters', () => {
    assert.deepEqual(select('name==root', 'name==look'), ['root', 'look']);
    assert.deepEqual(select('kind==view', 'labels.team==apps,kind==active'), ['default/7/work', 'look']);
  });
});

describe('parseSnapshotFilters: whitespace, as containerd scans it', () => {
  it('allows whitespace before a token', () => {
    assert.deepEqual(select(' name == root'), ['root']);
    assert.deepEqual(select('name==root,\tkind==committed'), ['root']);
  });

  it('rejects whitespace after a field path or value', () => {
    rejects('name==root ', /offset 10: \[name==root >\| \|< \]: unexpected input " "/);
    rejects('name==root ,kind==view', /unexpected input " "/);
    rejects('labels.team ', /expected an operator \("=="\|"!="\|"~="\), found end of filter/);
  });
});

describe('parseSnapshotFilters: syntax errors are InvalidArgument naming position and problem', () => {
  it('reports missing pieces', () => {
    rejects('name==root,', /offset 11: \[name==root,\]: expected field or quoted, found end of filter/);
    rejects('labels.', /offset 7: \[labels\.\]: expected field or quoted/);
    rejects('image~=,id', /offset 7: \[image~= >\|,\|< id\]: expected value or quoted$/);
    rejects('name==', /offset 6: .*expected value or quoted, found end of filter/);
    rejects(',', /offset 0: \[ >\|,\|< \]: expected field or quoted/);
    rejects('name,,kind', /offset 5: .*expected field or quoted/);
  });

  it('reports bad quoting', () => {
    rejects('labels."abc', /offset 7: \[labels\. >\|"\|< abc\]: quoted literal not terminated/);
    rejects('name=="a\nb"', /quoted literal not terminated/);
    rejects(String.raw`name=="a\qb"`, /offset 9: .*illegal escape sequence/);
    rejects(String.raw`name~=/\d/`, /illegal escape sequence/);
    rejects(String.raw`name=="\x4"`, /illegal numeric escape sequence/);
    rejects(String.raw`name=="\400"`, /unquoting failed: invalid octal escape/);
    rejects(String.raw`name=="\U00110000"`, /unquoting failed: escape \\U00110000 is beyond Unicode/);
    rejects('labels.|team|==infra', /offset 7: .*invalid quote encountered/);
    rejects('name==/root/', /invalid quote encountered: \/…\/ quotes only a regular expression after ~=/);
    rejects('labels.containerd.io/gc.root', /offset 20: .*quoted literal not terminated/);
  });

  it('reports bad operators and field names', () => {
    rejects('name=root', /offset 4: .*unsupported operator "="/);
    rejects('name!==root', /unsupported operator "!=="/);
    rejects('name=~root', /unsupported operator "=~"/);
    rejects('labels.foo-bar==x', /offset 10: \[labels\.foo >\|-\|< bar==x\]: expected an operator/);
    rejects('name==a\u0000', /unexpected null character/);
    rejects('labels.é', /offset 7: .*expected field or quoted/);
  });

  it('rejects the whole list when any filter is bad', () => {
    assert.throws(() => parseSnapshotFilters(['name==root', 'name==']), (err) => isSnapshotError(err, 'InvalidArgument'));
  });
});

describe('parseSnapshotFilters: evaluation cost', () => {
  it('compiles once and evaluates 10,000 snapshots without building a RegExp', () => {
    const many = Array.from({ length: 10_000 }, (_, n) =>
      snapshot(`default/${n}/layer`, {
        kind: n % 3 === 0 ? 'view' : 'committed',
        labels: { 'containerd.io/snapshot/remote': n % 2 === 0 ? 'true' : 'false', tier: `t${n % 10}` },
      }),
    );
    const matches = parseSnapshotFilters([
      String.raw`labels."containerd.io/snapshot/remote"==true,name~=^default/\d+0/,kind!=view`,
      'labels.tier~=^t7$',
    ]);
    const OriginalRegExp = globalThis.RegExp;
    let constructed = 0;
    globalThis.RegExp = new Proxy(OriginalRegExp, {
      construct(target, args: [string, string?]) {
        constructed++;
        return new target(...args);
      },
      apply(target, _this, args: [string, string?]) {
        constructed++;
        return target(...args);
      },
    });
    let selected: SnapshotInfo[];
    const started = process.hrtime.bigint();
    try {
      selected = many.filter(matches);
    } finally {
      globalThis.RegExp = OriginalRegExp;
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const expected = many.filter((_, n) => (n % 2 === 0 && n % 10 === 0 && n % 3 !== 0) || n % 10 === 7);
    assert.deepEqual(selected.map((s) => s.name), expected.map((s) => s.name));
    assert.equal(constructed, 0, 'no regular expression is built per snapshot');
    assert.ok(elapsedMs < 1000, `10,000 snapshots took ${elapsedMs} ms`);
  });
});
