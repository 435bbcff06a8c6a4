import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from './cli-process';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

test('strata --version prints the package version', async () => {
  const result = await runCli(['--version']);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${manifest.version}\n`);
});

test('strata --version --json prints it as JSON', async () => {
  const result = await runCli(['--version', '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { version: manifest.version });
});

test('strata --help lists the commands', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^\s+serve\b/m);
  assert.match(result.stdout, /^\s+snapshot\|snapshots\b/m);
});

test('an unknown command fails with commander\'s message', async () => {
  const result = await runCli(['snapshot', 'explode']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /unknown command 'explode'/);
});
