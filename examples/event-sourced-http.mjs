// An event-sourced bank-account service over HTTP (node:http only), on tidemark's Ring 0 / Ring 1
// pipeline (`openChangelogAwareStore`, transactional).
//
//   POST /accounts/:id/deposit  {"amount": 5}  -> 201 {"event": 7, "balance": 12} once durable
//   GET  /accounts/:id                         -> 200 {"id": "a", "balance": 12}
//
// Each deposit is an event: its record (`event:<n>`) and the account's new balance are put and
// committed together with the event number as the source offset, and the request is answered
// 201 only after the commit is durable (fdatasync'd by the Ring 1 worker). On start the service
// recovers: the last checkpoint plus the committed WAL tail, so every deposit ever answered 201
// is in the balance even after `kill -9`, and a deposit cut off mid-commit is not half-applied.
//
// Run (after `npm run build`):
//   node examples/event-sourced-http.mjs [DATA_DIR]    # default ./tidemark-example-http
//   PORT=8080 node examples/event-sourced-http.mjs     # default port 0: an ephemeral port
//   curl -X POST -d '{"amount":5}' http://127.0.0.1:PORT/accounts/alice/deposit
//   curl http://127.0.0.1:PORT/accounts/alice
// The first stdout line is `listening on http://127.0.0.1:PORT`.
//
// GET reads the in-memory state, which may include a deposit whose commit is not durable yet (its
// POST has not been answered); a service that must never show such a balance would answer reads
// only after `store.flushed(store.lastCommitSequence)`.
import * as http from 'node:http';
import { isTidemarkError, openChangelogAwareStore } from 'tidemark';

const dir = process.argv[2] ?? './tidemark-example-http';
const SOURCE = 'events'; // the source offset: number of the last committed event

const { store, recovered } = await openChangelogAwareStore({
  dir,
  transactional: true, // a deposit whose commit did not reach the WAL is not applied on recovery
  checkpointIntervalMs: 30_000, // Ring 1 checkpoints on its own; recovery replays only the tail
});
let lastEvent = recovered.sourceOffsets[SOURCE] ?? 0;
console.error(`recovered ${lastEvent} events (${store.size} keys) from ${dir}`);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function balanceOf(id) {
  const v = store.get(`account:${id}`);
  return v === undefined ? 0 : Number(decoder.decode(v));
}

/** Appends a deposit event; resolves once it is durable. */
async function deposit(id, amount) {
  // put + put + commit run without awaiting in between, so no other request's event can
  // interleave: the event and the balance it produces are one transaction.
  const event = ++lastEvent;
  const balance = balanceOf(id) + amount;
  store.put(`event:${event}`, encoder.encode(JSON.stringify({ type: 'deposit', id, amount })));
  store.put(`account:${id}`, encoder.encode(String(balance)));
  const seq = store.commit({ [SOURCE]: event }, Date.now());
  await store.flushed(seq); // durable: answered only now
  return { event, balance };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text || '{}');
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const depositPath = url.pathname.match(/^\/accounts\/([\w-]+)\/deposit$/);
    const accountPath = url.pathname.match(/^\/accounts\/([\w-]+)$/);
    if (req.method === 'POST' && depositPath) {
      const { amount } = await readJson(req);
      if (!Number.isSafeInteger(amount) || amount <= 0)
        return reply(res, 400, { error: 'amount must be a positive integer' });
      return reply(res, 201, await deposit(depositPath[1], amount));
    }
    if (req.method === 'GET' && accountPath)
      return reply(res, 200, { id: accountPath[1], balance: balanceOf(accountPath[1]) });
    reply(res, 404, { error: 'not found' });
  } catch (err) {
    // A durability failure (I/O error, full disk) is never reported as success.
    reply(res, isTidemarkError(err) ? 503 : 400, { error: String(err?.message ?? err) });
  }
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

async function shutdown() {
  server.close();
  await store.close(); // drains the ring, syncs, stops Ring 1
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
