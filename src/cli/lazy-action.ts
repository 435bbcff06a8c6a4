/**
 * A commander action that loads its implementation only when the command
 * runs: registering every command then costs no more than commander itself,
 * and each command loads just the modules it uses (`--help` and `--version`
 * load none).
 */
export function lazyAction<M, K extends keyof M>(load: () => Promise<M>, name: K): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    await (((await load())[name]) as (...args: unknown[]) => Promise<void>)(...args);
  };
}
