/**
 * A program that is not installed fails a call with FailedPrecondition
 * naming its Debian package (gRPC FAILED_PRECONDITION), never an untyped
 * error (Unknown).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { runTool, runToolSync, ToolError } from '../../src/exec/run-tool';
import { checkTools } from '../../src/exec/tools';
import { toStatus } from '../../src/server/status';

describe('running tools', () => {
  let emptyDir: string;
  let savedPath: string | undefined;
  before(async () => {
    emptyDir = await mkdtemp('/tmp/strata-nobin-');
    savedPath = process.env.PATH;
  });
  after(async () => {
    process.env.PATH = savedPath;
    await rm(emptyDir, { recursive: true, force: true });
  });

  const withoutPrograms = <T>(run: () => T): T => {
    process.env.PATH = emptyDir;
    try {
      return run();
    } finally {
      process.env.PATH = savedPath;
    }
  };

  const assertMissing = (err: unknown, tool: string, pkg: string) => {
    const { code, details } = toStatus(err);
    assert.equal(grpc.status[code], 'FAILED_PRECONDITION', String(err));
    assert.match(details, new RegExp(`^cannot run ${tool} \\(Debian package '${pkg}'\\): `));
    return true;
  };

  it('a missing program is FailedPrecondition naming its package, async and sync', async () => {
    await assert.rejects(withoutPrograms(() => runTool('dmsetup', ['version'])), (err) => assertMissing(err, 'dmsetup', 'dmsetup'));
    assert.throws(() => withoutPrograms(() => runToolSync('tar', ['-x', '-f', '-'], Buffer.alloc(1024))), (err) => assertMissing(err, 'tar', 'tar'));
  });

  it('a program that runs and fails is still a ToolError with its stderr', async () => {
    await assert.rejects(runTool('mount', ['--no-such-option']), (err) => err instanceof ToolError && err.exitCode !== 0);
    assert.throws(() => runToolSync('tar', ['-x', '-f', '-'], Buffer.from('not a tar archive')), ToolError);
  });

  it('checkTools names every missing program and what to install', () => {
    assert.doesNotThrow(() => checkTools(['mount', 'tar']));
    assert.throws(
      () => checkTools(['mount', 'mkfs.xfs', 'xfs_growfs'], emptyDir),
      {
        message:
          "not found on PATH: mount (Debian package 'mount'), mkfs.xfs (Debian package 'xfsprogs'), " +
          "xfs_growfs (Debian package 'xfsprogs'); install with: apt-get install mount xfsprogs",
      },
    );
  });
});
