/**
 * Loading a package that only some users need (the AWS SDK for `s3://` stores, the demo's
 * parquet reader and data set) on first use, so that `npm install tidemark` does not pull it in
 * for everyone, and so that its absence is a clear `TIDEMARK_MISSING_DEPENDENCY` naming the
 * package and the command that installs it rather than Node's bare `ERR_MODULE_NOT_FOUND`.
 */
import { TidemarkError } from '../errors.js';

/** What {@link importOptional} loads and how to tell the user to install it. */
export interface OptionalDependency<T> {
  /** The package name, e.g. `@aws-sdk/client-s3`. */
  name: string;
  /** What needs it, for the message, e.g. `s3:// object stores (S3ObjectStorage)`. */
  neededFor: string;
  /** The command that installs it (default `npm install <name>`). */
  install?: string | undefined;
  /**
   * Loads it: `() => import('@aws-sdk/client-s3')`. A literal specifier (rather than
   * `import(name)`) keeps the dependency visible to bundlers.
   */
  load: () => Promise<T>;
}

/** True when `err` says that the package `name` itself (not one of its own imports) is missing. */
export function isMissingPackage(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = err instanceof Error ? err.message : String(err);
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}

/** The `TIDEMARK_MISSING_DEPENDENCY` error for `dependency`. */
export function missingDependency(
  dependency: Omit<OptionalDependency<unknown>, 'load'>,
  cause?: unknown,
): TidemarkError {
  const install = dependency.install ?? `npm install ${dependency.name}`;
  return new TidemarkError(
    'TIDEMARK_MISSING_DEPENDENCY',
    `the package ${dependency.name} is not installed; it is needed for ${dependency.neededFor}. Install it with: ${install}`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Loads an optional package. Rejects `TIDEMARK_MISSING_DEPENDENCY` (message: the package and the
 * install command) when the package is not installed; any other load failure (a broken install,
 * a missing dependency of the package itself) is passed on unchanged. Nothing is cached here:
 * callers keep the module they got (a failed load can then be retried after an install).
 */
export async function importOptional<T>(dependency: OptionalDependency<T>): Promise<T> {
  try {
    return await dependency.load();
  } catch (err) {
    if (isMissingPackage(err, dependency.name)) throw missingDependency(dependency, err);
    throw err;
  }
}
