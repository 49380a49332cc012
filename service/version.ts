// The package's version, for the start-up line and GET /healthz: read from package.json, which sits two folders up
// from both service/ (ts) and dist/service/ (js).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function read(): string {
  for (const up of [['..'], ['..', '..']]) {
    const file = join(__dirname, ...up, 'package.json');
    if (existsSync(file)) return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
  }
  return 'unknown';
}

export const VERSION = read();
