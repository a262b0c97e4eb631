/**
 * Streaming reader of state files: hands out a file's entries one checked block at a time, in
 * key order, holding one block (about 1 MiB) plus one input chunk — never the whole file. Used
 * by the base merge (checkpoint/base-merge.ts), which never materialises the state.
 *
 * Version 3 files are sorted and block-checked, so they stream. Versions 1 and 2 are unsorted
 * with one checksum over the whole file: such a file is read whole, checked, and its entries
 * sorted in memory — once, when the first base after an upgrade folds an old chain.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  STATE_BLOCK_HEADER_SIZE,
  STATE_BLOCK_TRAILER_SIZE,
  STATE_FILE_HEADER_SIZE,
  STATE_FILE_KIND_OFFSET,
  STATE_FILE_MAGIC,
  STATE_FILE_MAGIC_OFFSET,
  STATE_FILE_TRAILER_SIZE,
  STATE_FILE_V3_TRAILER_SIZE,
  STATE_FILE_VERSION,
  STATE_FILE_VERSION_OFFSET,
  StateFileKind,
} from './constants.js';
import { crc32c, maskCrc32c } from './crc32c.js';
import { readStateFile } from './state-file.js';
import {
  checkBlockCrc,
  checkV3Header,
  parseStateBlock,
  readBlockHeader,
  readV3Trailer,
  type StateBlock,
  sortStateEntries,
} from './state-file-v3.js';

/** Entries per block handed out when an old (unsorted) file is read whole and sorted. */
const LEGACY_BLOCK_ENTRIES = 65_536;

/** What a streamed file held, known once it has been read to the end. */
export interface StreamedStateFileInfo {
  /** Base (every key) or delta (changes since the parent). */
  kind: StateFileKind;
  /** Format version of the file. */
  version: number;
  /** Entries in the file, tombstones included (count). */
  entries: number;
  /** Tombstones (deleted keys) among them; 0 in a base. */
  tombstones: number;
  /** True when the file was read whole because it is an old, unsorted version. */
  loadedWhole: boolean;
}

/**
 * Reads a state file from `chunks` (its bytes in order, any chunk sizes) block by block.
 * `nextBlock()` resolves the next block's entries in key order (views valid until the reader is
 * dropped), or undefined at the end, after the trailer was checked. Throws `TIDEMARK_CORRUPTION`
 * (path and offset) and `TIDEMARK_UNSUPPORTED_VERSION`; entries of a block are handed out only
 * once that block's checksum held, and the end only once the whole-file checksum did.
 */
export class StateFileStreamReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;
  /** File offset of the first pending byte. */
  private offset = 0;
  private crc = 0;
  private header: { kind: StateFileKind; version: number } | undefined;
  private previous: Buffer | undefined;
  private entries = 0;
  private tombstones = 0;
  private legacy: StateBlock[] | undefined;
  private done: StreamedStateFileInfo | undefined;

  constructor(
    chunks: AsyncIterable<Uint8Array>,
    /** The file's name or key, used in errors only (nothing is opened). */
    readonly path: string,
  ) {
    this.source = chunks[Symbol.asyncIterator]();
  }

  /** What the file held; set once `nextBlock()` resolved undefined. */
  get info(): StreamedStateFileInfo | undefined {
    return this.done;
  }

  /** Kind and version from the header (reads it when not read yet). */
  async kind(): Promise<{
    /** Base (every key) or delta (changes since the parent). */
    kind: StateFileKind;
    /** Format version of the file. */
    version: number;
  }> {
    this.header ??= await this.readHeader();
    return this.header;
  }

  /** Pulls chunks until `n` bytes are pending or the source ends; true when `n` are. */
  private async fill(n: number): Promise<boolean> {
    while (this.pendingBytes < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const c = next.value;
      if (c.length === 0) continue;
      this.pending.push(Buffer.from(c.buffer, c.byteOffset, c.length));
      this.pendingBytes += c.length;
    }
    return this.pendingBytes >= n;
  }

  /** Removes and returns the next `n` pending bytes (one buffer; copies only across chunks). */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.pending[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const c = this.pending[0]!;
        const k = Math.min(c.length, n - o);
        c.copy(out, o, 0, k);
        o += k;
        if (k === c.length) this.pending.shift();
        else this.pending[0] = c.subarray(k);
      }
    }
    this.pendingBytes -= n;
    this.offset += n;
    return out;
  }

  /** Peeks `n` pending bytes (which must be pending) without consuming them. */
  private peek(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.pending, this.pendingBytes).subarray(0, n);
  }

  private async readHeader(): Promise<{ kind: StateFileKind; version: number }> {
    if (!(await this.fill(STATE_FILE_HEADER_SIZE))) throw corruption(this.path, 0, 'state file too short');
    const h = this.peek(STATE_FILE_HEADER_SIZE);
    if (h.readUInt32LE(STATE_FILE_MAGIC_OFFSET) !== STATE_FILE_MAGIC)
      throw corruption(this.path, 0, 'not a state file (bad magic)');
    const version = h.readUInt16LE(STATE_FILE_VERSION_OFFSET);
    if (version > STATE_FILE_VERSION || version === 0) {
      throw new TidemarkError(
        'TIDEMARK_UNSUPPORTED_VERSION',
        `${this.path}: state file version ${version}, this build reads 1 to ${STATE_FILE_VERSION}`,
        { path: this.path, offset: STATE_FILE_VERSION_OFFSET },
      );
    }
    const kind = h.readUInt16LE(STATE_FILE_KIND_OFFSET);
    if (kind !== StateFileKind.Base && kind !== StateFileKind.Delta)
      throw corruption(this.path, STATE_FILE_KIND_OFFSET, `unknown state file kind ${kind}`);
    if (version >= 3) {
      const header = this.take(STATE_FILE_HEADER_SIZE);
      checkV3Header(header, this.path);
      this.crc = crc32c(header, 0, header.length, this.crc);
    }
    return { kind: kind as StateFileKind, version };
  }

  /** The next block of entries in key order, or undefined at the end. */
  async nextBlock(): Promise<StateBlock | undefined> {
    const { kind, version } = await this.kind();
    if (version < 3) return this.nextLegacyBlock(kind, version);
    if (this.done) return undefined;
    // The trailer is the last 16 bytes: whatever is pending once the source has ended there.
    await this.fill(STATE_FILE_V3_TRAILER_SIZE + 1);
    if (this.ended && this.pendingBytes <= STATE_FILE_V3_TRAILER_SIZE) return this.finishV3(kind, version);
    const at = this.offset;
    if (!(await this.fill(STATE_BLOCK_HEADER_SIZE + STATE_BLOCK_TRAILER_SIZE + STATE_FILE_V3_TRAILER_SIZE)))
      throw corruption(this.path, at, 'block header past the end');
    const { bodyLength, count } = readBlockHeader(this.peek(STATE_BLOCK_HEADER_SIZE), 0, {
      path: this.path,
      fileOffset: at,
    });
    const blockBytes = STATE_BLOCK_HEADER_SIZE + bodyLength + STATE_BLOCK_TRAILER_SIZE;
    if (!(await this.fill(blockBytes + STATE_FILE_V3_TRAILER_SIZE)))
      throw corruption(this.path, at, 'block past the end');
    const b = this.take(blockBytes);
    checkBlockCrc(b, { o: 0, bodyLength }, { path: this.path, fileOffset: at });
    this.crc = crc32c(b, 0, b.length, this.crc);
    const block = parseStateBlock(
      b,
      { start: STATE_BLOCK_HEADER_SIZE, bodyLength, count },
      { path: this.path, fileOffset: at, kind, previous: this.previous },
    );
    this.previous = block.keys[block.keys.length - 1];
    this.entries += count;
    for (const v of block.values) if (v === undefined) this.tombstones++;
    return block;
  }

  private finishV3(kind: StateFileKind, version: number): undefined {
    const at = this.offset;
    if (this.pendingBytes !== STATE_FILE_V3_TRAILER_SIZE)
      throw corruption(this.path, at, 'trailer cut short');
    const t = this.take(STATE_FILE_V3_TRAILER_SIZE);
    if (t.readUInt32LE(12) !== maskCrc32c(crc32c(t, 0, 12, this.crc)))
      throw corruption(this.path, at + 12, 'state file checksum mismatch');
    const { entries, tombstones } = readV3Trailer(t, 0);
    if (entries !== this.entries || tombstones !== this.tombstones)
      throw corruption(
        this.path,
        at,
        `trailer counts ${entries}/${tombstones}, blocks hold ${this.entries}/${this.tombstones}`,
      );
    this.done = { kind, version, entries, tombstones, loadedWhole: false };
    return undefined;
  }

  /** Old versions: read whole, check, sort, hand out in blocks. */
  private async nextLegacyBlock(kind: StateFileKind, version: number): Promise<StateBlock | undefined> {
    if (this.legacy === undefined) {
      while (await this.fill(this.pendingBytes + 1)) {}
      const whole = this.pendingBytes > 0 ? this.take(this.pendingBytes) : Buffer.alloc(0);
      if (whole.length < STATE_FILE_HEADER_SIZE + STATE_FILE_TRAILER_SIZE)
        throw corruption(this.path, 0, 'state file too short');
      const read: [string, Uint8Array | undefined][] = [];
      const info = readStateFile(whole, this.path, (key, value) => read.push([key, value]));
      const sorted = sortStateEntries(read);
      // Versions 1 and 2 never promised unique keys in order; a repeated key is damage.
      for (let i = 1; i < sorted.length; i++)
        if (Buffer.compare(sorted[i - 1]!.key, sorted[i]!.key) === 0)
          throw corruption(this.path, 0, `key ${sorted[i]!.key.toString()} appears twice`);
      this.legacy = [];
      for (let i = 0; i < sorted.length; i += LEGACY_BLOCK_ENTRIES) {
        const slice = sorted.slice(i, i + LEGACY_BLOCK_ENTRIES);
        this.legacy.push({ keys: slice.map((e) => e.key), values: slice.map((e) => e.value) });
      }
      this.legacy.reverse();
      this.done = { kind, version, entries: info.entries, tombstones: info.tombstones, loadedWhole: true };
    }
    return this.legacy.pop();
  }
}
