/**
 * A loopback HTTP proxy in front of the test run's S3 server that injects faults into chosen
 * requests: 5xx answers, refusals, dropped connections, answers that never come after the
 * request reached the server, truncated and bit-flipped response bodies. Requests are signed
 * for the proxy's address and forwarded with the same Host header, so signatures still verify.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { s3Endpoint } from './s3.ts';

export type Fault =
  /** 503 SlowDown-style answer; the request never reaches the server. */
  | '503'
  /** 403 AccessDenied; the request never reaches the server. */
  | '403'
  /** The connection is closed before anything is forwarded. */
  | 'drop'
  /** Forwarded (it takes effect), but the answer never comes back. */
  | 'hang'
  /** Forwarded; the answer's body is cut in half and the connection closed. */
  | 'truncate'
  /** Forwarded; one byte of the answer's body is flipped. */
  | 'flip';

/** Decides the fault for the n-th request (1-based), or none. */
export type FaultPlan = (req: { method: string; url: string }, n: number) => Fault | undefined;

export interface FaultProxy {
  endpoint: string;
  /** Replaces the plan. */
  setPlan(plan: FaultPlan): void;
  /** Faults injected so far, by kind. */
  injected: Map<Fault, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(plan: FaultPlan = () => undefined): Promise<FaultProxy> {
  const upstream = new URL(s3Endpoint());
  let current = plan;
  let n = 0;
  const injected = new Map<Fault, number>();
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const fault = current({ method: req.method ?? 'GET', url: req.url ?? '/' }, ++n);
    if (fault) injected.set(fault, (injected.get(fault) ?? 0) + 1);
    if (fault === '503' || fault === '403') {
      req.resume();
      const code = fault === '503' ? 'ServiceUnavailable' : 'AccessDenied';
      res.writeHead(Number(fault), { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`,
      );
      return;
    }
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        if (fault === 'hang') {
          up.resume();
          hung.add(res);
          return;
        }
        if (fault === 'truncate' || fault === 'flip') {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(up.statusCode ?? 500, up.headers);
            if (fault === 'flip' && body.length > 0) {
              body[body.length >> 1]! ^= 0x01;
              res.end(body);
            } else {
              res.write(body.subarray(0, body.length >> 1));
              res.socket?.destroy();
            }
          });
          return;
        }
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    setPlan(p) {
      current = p;
    },
    injected,
    async close() {
      for (const res of hung) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
