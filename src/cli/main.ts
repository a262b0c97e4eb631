/** The `tidemark` command line. */
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isTidemarkError } from '../errors.js';
import { runCoresIngest } from './demo/cores-ingest.js';
import { runDemo } from './demo/supervisor.js';
import { runWorker } from './demo/worker.js';
import { runInspect } from './inspect.js';
import { runProbe } from './probe.js';
import { parseUntilLsn, parseUntilTime, runRecover } from './recover.js';
import { runVerify } from './verify.js';

function int(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new InvalidArgumentError('--seconds must be a number in (0, 3600]');
  return n;
}

export async function main(argv: string[], cliScript: string): Promise<number> {
  const program = new Command();
  program
    .name('tidemark')
    .description('tidemark: a write-ahead log, checkpoints and recovery for Node.js')
    .showHelpAfterError();

  let exitCode = 0;
  program
    .command('demo')
    .description(
      'stream the 3,000,000 US flights of H1 2001 into durable keyed aggregates, SIGKILL the ingest worker at random, recover, and verify the final state against a crash-free reference',
    )
    .option('--limit <rows>', 'process only the first ROWS flights', int('--limit', 1))
    .option('--dir <dir>', 'data directory (wiped at start)', 'tidemark-demo')
    .option('--crashes <n>', 'SIGKILLs to deliver', int('--crashes', 0), 5)
    .option('--seed <s>', 'seed of the kill schedule', int('--seed', 0), 1)
    .option('--out <file>', 'write the final aggregates as JSON to FILE')
    .option('--batch <rows>', 'rows per committed batch', int('--batch', 1), 5000)
    .option('--checkpoint-every <rows>', 'rows between checkpoints', int('--checkpoint-every', 1), 250_000)
    .addOption(
      new Option(
        '--engine <engine>',
        'ring: the Ring 0 / Ring 1 pipeline (I/O and checkpoints in a worker thread); simple: the synchronous WalStateStore',
      )
        .choices(['ring', 'simple'])
        .default('ring'),
    )
    .option(
      '--cores <n>',
      'thread-per-core ingest: airports partitioned across N worker threads, each with its own state and WAL, checkpoints coordinated by epoch barriers',
      int('--cores', 1),
    )
    .option(
      '--store <url>',
      'keep checkpoints and the WAL archive in S3-compatible object storage, s3://BUCKET/PREFIX, or a directory, file:///PATH (the prefix is wiped at start; endpoint and keys from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)',
    )
    .option(
      '--takeovers <n>',
      'with --store: freeze the writer (SIGSTOP) N times at random rows, take its object store over from a fresh directory, resume the frozen one (it must be fenced), and verify the state restored from the object store alone',
      int('--takeovers', 0),
      0,
    )
    .action(async (o) => {
      const summary = await runDemo(
        {
          dir: o.dir,
          limit: o.limit,
          crashes: o.crashes,
          seed: o.seed,
          out: o.out,
          batchRows: o.batch,
          checkpointEveryRows: o.checkpointEvery,
          engine: o.engine,
          cliScript,
          store: o.store,
          cores: o.cores,
          takeovers: o.takeovers,
        },
        (line) => console.log(line),
      );
      exitCode = summary.verified ? 0 : 1;
    });

  program
    .command('demo-worker', { hidden: true })
    .requiredOption('--dir <dir>')
    .requiredOption('--limit <rows>', '', int('--limit', 1))
    .requiredOption('--batch <rows>', '', int('--batch', 1))
    .requiredOption('--checkpoint-every <rows>', '', int('--checkpoint-every', 1))
    .addOption(new Option('--engine <engine>').choices(['ring', 'simple']).default('ring'))
    .option('--store <url>')
    .option('--cores <n>', '', int('--cores', 1))
    .option('--takeover')
    .action(async (o) => {
      if (o.cores) {
        exitCode = await runCoresIngest({
          dir: o.dir,
          cores: o.cores,
          limit: o.limit,
          batchRows: o.batch,
          checkpointEveryRows: o.checkpointEvery,
          store: o.store,
          takeover: o.takeover === true,
        });
        process.disconnect?.();
        return;
      }
      exitCode = await runWorker({
        dir: o.dir,
        engine: o.engine,
        store: o.store,
        takeover: o.takeover === true,
        limit: o.limit,
        batchRows: o.batch,
        checkpointEveryRows: o.checkpointEvery,
      });
      process.disconnect?.();
    });

  program
    .command('recover')
    .description(
      'recover the state of a data directory and report it; with --from, first restore the directory from object storage alone (latest valid checkpoint + archived WAL segments)',
    )
    .requiredOption(
      '--dir <dir>',
      'data directory (with --from: created, and must hold no WAL or checkpoint)',
    )
    .option(
      '--from <url>',
      'restore from S3-compatible object storage, s3://BUCKET/PREFIX (endpoint and keys from the AWS_* settings), or a file:///PATH store',
    )
    .option(
      '--transactional',
      'apply only committed transactions (what the demo and other committed-batch writers need)',
      false,
    )
    .option('--out <file>', 'write the recovered state as JSON to FILE')
    .option(
      '--until-lsn <lsn>',
      'with --from: point-in-time recovery, the state as of this LSN (newest checkpoint at or before it + archived WAL up to it)',
    )
    .option(
      '--until-time <time>',
      'with --from: point-in-time recovery, the state as of commit time TIME (ISO 8601 or ms since the Unix epoch): every batch committed at or before it',
    )
    .addOption(
      new Option(
        '--format <format>',
        "JSON written by --out: demo (the demo's aggregates), state (keys, base64 values), auto",
      )
        .choices(['auto', 'demo', 'state'])
        .default('auto'),
    )
    .option('--json', 'print the report as one JSON object', false)
    .option(
      '--cores <n>',
      'a per-core data directory with N cores (wal/core-<id>/); with --from it is detected from the store when not given',
      int('--cores', 1),
    )
    .addOption(
      new Option(
        '--mode <mode>',
        'what to do with damage in the WAL: tolerate-torn-tail (cut a torn write at the end), absolute-consistency (refuse any damage), point-in-time (stop at the first damage), salvage (keep every intact record, report what was skipped)',
      )
        .choices(['tolerate-torn-tail', 'absolute-consistency', 'point-in-time', 'salvage'])
        .default('tolerate-torn-tail'),
    )
    .action(async (o) => {
      await runRecover(
        {
          dir: o.dir,
          from: o.from,
          mode: o.mode,
          transactional: o.transactional,
          out: o.out,
          format: o.format,
          json: o.json,
          cores: o.cores,
          untilLsn: o.untilLsn === undefined ? undefined : parseUntilLsn(o.untilLsn),
          untilTimeMs: o.untilTime === undefined ? undefined : parseUntilTime(o.untilTime),
        },
        (line) => console.log(line),
      );
    });

  program
    .command('verify')
    .description(
      "check every WAL segment and checkpoint of a data directory, read-only: exit 0 when clean, 1 with each problem's code, file and offset when damaged, 2 when it cannot be read",
    )
    .argument('<dir>', 'data directory')
    .option('--store <url>', 'checkpoints are in object storage, s3://BUCKET/PREFIX or file:///PATH')
    .option('--json', 'print the result as one JSON object', false)
    .action(async (dir, o) => {
      exitCode = await runVerify({ dir, store: o.store, json: o.json }, (line) => console.log(line));
    });

  program
    .command('inspect')
    .description(
      'show what a data directory holds: WAL segments (LSN ranges, records by type, sizes), checkpoints (kind, chain, WAL position, files, keys), read-only',
    )
    .argument('<dir>', 'data directory')
    .option('--store <url>', 'checkpoints are in object storage, s3://BUCKET/PREFIX or file:///PATH')
    .option('--json', 'print the whole report as one JSON object', false)
    .action(async (dir, o) => {
      exitCode = await runInspect({ dir, store: o.store, json: o.json }, (line) => console.log(line));
    });

  program
    .command('probe')
    .description(
      "measure how fast the disk under DIR makes writes durable (pg_test_fsync-style): write+fdatasync and O_DSYNC writes of 4 KiB, 64 KiB and 1 MiB, 1 KiB commits appending vs into a zero-filled file, fdatasync latency p50/p99; then recommend the WAL's syncMethod, groupCommitBytes and preallocateSegments, each with its reason. Works in a temporary subdirectory of DIR (DIR is created when missing) and removes it",
    )
    .argument('<dir>', 'a directory on the disk to probe (left as it was)')
    .option('--seconds <n>', 'total time of the measurements, shared by the cases', seconds, 5)
    .option('--fsync', 'also time write+fsync at each size', false)
    .option('--json', 'one {"name","value","unit"} object per line, then {"recommendation": {...}}', false)
    .action(async (dir, o) => {
      await runProbe({ dir, seconds: o.seconds, json: o.json, fsync: o.fsync }, (line) => console.log(line));
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (isTidemarkError(err)) {
      console.error(`tidemark: ${err.code}: ${err.message}`);
      return 2;
    }
    throw err;
  }
  return exitCode;
}

export const CLI_SCRIPT = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));
