/**
 * The real S3-compatible server of the test run (radosgw, started by scripts/run-tests.mjs).
 * Each call gets a fresh prefix in the shared test bucket, so test files never see each other.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectStoreConfig } from '../../src/io/index.ts';

export const TEST_BUCKET = 'tidemark-test';

/** The server's endpoint; throws (failing the test) when the run has none. */
export function s3Endpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3;
  if (!endpoint)
    throw new Error(
      'no S3 server: run the tests through `npm test` / scripts/run-tests.mjs (it starts radosgw), or set AWS_ENDPOINT_URL_S3 and the AWS keys',
    );
  return endpoint;
}

/** A config for a fresh prefix on the test server, with fast retries. */
export function testObjectStore(
  label: string,
  overrides: Partial<ObjectStoreConfig> = {},
): ObjectStoreConfig {
  s3Endpoint();
  return {
    bucket: TEST_BUCKET,
    prefix: `${label}/${randomUUID()}`,
    baseBackoffMs: 10,
    maxBackoffMs: 200,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

/** `s3://…` URL of a config. */
export function urlOf(config: ObjectStoreConfig): string {
  return `s3://${config.bucket}/${config.prefix}`;
}
