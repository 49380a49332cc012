// Starting the benchmark's processes (the fake vendor, the baseline proxy, Keybrake) and waiting until each prints
// the URL it listens on.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(__dirname, '..');
export const ADMIN = 'kb_bench_admin_key_0123456789abcdef';
export const MASTER = 'ab'.repeat(32);

/** Spawns `node args` with only PATH and `env`; `ready` resolves with the first line `pick` turns into a URL. */
export function startProcess(args: string[], env: Record<string, string>, pick: (line: string) => string | undefined): { child: ChildProcess; ready: Promise<string> } {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = new Promise<string>((ok, fail) => {
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const url = pick(line);
      if (url) ok(url);
    });
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
    child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited with ${code}:\n${lines.join('\n')}`)));
  });
  return { child, ready };
}

/** A TypeScript file of the project, run through tsx. */
export const tsx = (file: string, ...args: string[]): string[] => ['--require', 'tsx/cjs', join(ROOT, file), ...args];
/** The fake vendor and the baseline print their URL as a plain line. */
export const plain = (line: string): string | undefined => (/^http:\/\//.test(line) ? line.trim() : undefined);
/** Keybrake logs `keybrake listening` with its URL. */
export const listening = (line: string): string | undefined => {
  try {
    const j = JSON.parse(line) as { msg?: string; url?: string };
    return j.msg === 'keybrake listening' ? j.url : undefined;
  } catch {
    return undefined;
  }
};
/** Keybrake built into dist/, on an ephemeral port, with the bench's admin and master keys. */
export const keybrakeArgs = [join(ROOT, 'dist', 'cli', 'main.js'), 'serve'];
export const keybrakeEnv = (env: Record<string, string>): Record<string, string> => ({ PORT: '0', KEYBRAKE_ADMIN_KEY: ADMIN, KEYBRAKE_MASTER_KEY: MASTER, ...env });
