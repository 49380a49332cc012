// File I/O for `keybrake plugin generate` and `keybrake plugin package`.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { GenerateError } from './generate';
import { generatePlugin } from './plugin';
import { checkPlugin } from './plugin-rules';
import { zip } from './zip';

const IGNORED = [/(^|\/)__pycache__\//, /\.pyc$/, /(^|\/)\.env$/, /\.difypkg$/, /(^|\/)\.DS_Store$/];

/** Writes the generated sources; returns the paths whose content changed. */
export function writePlugin(dir: string): string[] {
  const changed: string[] = [];
  for (const [path, content] of generatePlugin()) {
    const file = join(dir, path);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    changed.push(path);
  }
  return changed;
}

export function readPluginDir(dir: string): Map<string, Buffer> {
  if (!existsSync(dir)) throw new GenerateError(`plugin directory ${dir} does not exist (run keybrake plugin generate)`);
  const files = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const rel = relative(dir, full).split('\\').join('/');
      if (IGNORED.some((re) => re.test(rel + (statSync(full).isDirectory() ? '/' : '')))) continue;
      if (statSync(full).isDirectory()) walk(full);
      else files.set(rel, readFileSync(full));
    }
  };
  walk(dir);
  return files;
}

/** Validates the plugin's files against Dify's rules and writes the .difypkg (files at the zip's root). */
export function packagePlugin(dir: string, out: string): { files: number; bytes: number } {
  const files = readPluginDir(dir);
  const problems = checkPlugin(new Map([...files].map(([k, v]) => [k, v.toString('utf8')])));
  if (problems.length > 0) throw new GenerateError(`the plugin breaks Dify's rules: ${problems.join('; ')}`);
  const pkg = zip(files);
  writeFileSync(out, pkg);
  return { files: files.size, bytes: pkg.length };
}
