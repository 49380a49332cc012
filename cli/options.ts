// Command-line options, strictly: each command takes its own options only, so a misspelt or misplaced one
// (`--endpoint` where `--endpoints` is meant) is an error that names it, never silently ignored.
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

type Spec = Record<string, { type: 'string' | 'boolean' }>;

/** The closest allowed option, for "did you mean". */
function closest(name: string, allowed: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = d[i] as number[];
        const up = d[i - 1] as number[];
        row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return (d[a.length] as number[])[b.length] as number;
  };
  const best = allowed.map((o) => [o, distance(name, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? best[0] : undefined;
}

export function parseOptions<S extends Spec>(command: string, args: string[], spec: S, positionals = false): { values: { [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string }; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: spec, allowPositionals: positionals, strict: true });
    return parsed as unknown as { values: { [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string }; positionals: string[] };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    const option = /'(-[^']+)'/.exec(message)?.[1];
    const allowed = Object.keys(spec);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
      const near = closest(option.replace(/^-+/, ''), allowed);
      throw new UsageError(`${command}: unknown option ${option}${near ? ` (did you mean --${near}?)` : ''}; it takes ${allowed.map((o) => `--${o}`).join(', ') || 'no options'}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`${command}: unexpected argument ${/'([^']+)'/.exec(message)?.[1] ?? ''}; options start with --`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) throw new UsageError(`${command}: ${option} needs a value`);
    throw new UsageError(`${command}: ${message.split('\n')[0]}`);
  }
}

/** An option that must be there. */
export function required(command: string, value: string | undefined, option: string, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${option} is required (${what})`);
  return value;
}
