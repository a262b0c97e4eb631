// Runs a writer child process (a TypeScript file, through tsx) that prints `open N` once it has
// recovered and `ack N` for each acknowledged write; SIGKILLs it `killAfterMs` after `open`.
import { spawn } from 'node:child_process';

export function runAndKill(
  child: string,
  args: string[],
  killAfterMs: number,
): Promise<{ maxAck: number; openedAt: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let maxAck = 0;
    let openedAt = -1;
    let buffered = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'open') {
          openedAt = Number(value);
          setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'ack') maxAck = Math.max(maxAck, Number(value));
      }
    });
    proc.on('error', reject);
    proc.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without SIGKILL (${signal})`));
      else resolve({ maxAck, openedAt });
    });
  });
}
