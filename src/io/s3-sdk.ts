/**
 * The AWS SDK (`@aws-sdk/client-s3`) is an optional peer dependency: only `s3://` stores need it,
 * and it is about 22 MB installed. It is imported on the first request of an
 * {@link S3ObjectStorage}, never at `import 'tidemark'`.
 */
import { importOptional } from './optional-dependency.js';

/** The SDK module's shape (a type only: erased from the emitted JavaScript). */
export type S3Sdk = typeof import('@aws-sdk/client-s3');

/** The peer dependency's package name. */
export const S3_SDK_PACKAGE = '@aws-sdk/client-s3';

let loading: Promise<S3Sdk> | undefined;

/**
 * The SDK module, imported once per process. Rejects `TIDEMARK_MISSING_DEPENDENCY` naming the
 * package and `npm install @aws-sdk/client-s3` when it is not installed; a failed load is not
 * kept, the next call tries again.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  loading ??= importOptional({
    name: S3_SDK_PACKAGE,
    neededFor: 's3:// object stores (S3ObjectStorage)',
    load: () => import('@aws-sdk/client-s3'),
  });
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}
