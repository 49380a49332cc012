// Runs the service as a separate OS process (as production would), from the TypeScript sources via tsx.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ServiceProcess {
  url: string;
  /** The processes that announced they were listening (several in cluster mode). */
  pids: number[];
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

const ROOT = join(__dirname, '..', '..');

/** Sends SIGTERM and resolves once the process has exited (at once if it already has). */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

export function spawnService(env: Record<string, string>, listeners = 1): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', join(ROOT, 'cli', 'main.ts'), 'serve'], {
    cwd: ROOT,
    // Info level: the 'keybrake listening' line is how the test learns the port.
    env: { PATH: process.env.PATH ?? '', ...env, KEYBRAKE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const pids: number[] = [];
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`service did not start in 30 s:\n${output.join('\n')}`)), 30_000);
    const onLine = (line: string): void => {
      output.push(line);
      try {
        const parsed = JSON.parse(line) as { msg?: string; url?: string; pid?: number };
        if (parsed.msg === 'keybrake listening' && parsed.url) pids.push(parsed.pid ?? 0);
        if (parsed.msg === 'keybrake listening' && parsed.url && pids.length === listeners) {
          clearTimeout(timer);
          ok({
            url: parsed.url,
            pids,
            child,
            output,
            stop: () => stopChild(child),
          });
        }
      } catch {
        // not a log line
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`service exited with ${code}:\n${output.join('\n')}`));
    });
  });
}
