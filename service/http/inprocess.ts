// A request run through the proxy route in process: what a tool called over MCP does, so that it takes exactly the
// proxy's path (decide, price, reserve with the audit row, forward, settle) without a second network hop. The
// request reads like node's IncomingMessage (method, url, headers, a body stream) and the response collects the
// answer; only the members the proxy route uses are there.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

export interface Collected {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

class CollectingResponse extends EventEmitter {
  writableFinished = false;
  destroyed = false;
  private status = 200;
  private readonly headers: Record<string, string> = {};

  constructor(private readonly done: (c: Collected) => void) {
    super();
  }

  setHeader(name: string, value: string | number): this {
    this.headers[name.toLowerCase()] = String(value);
    return this;
  }

  writeHead(status: number, headers: Record<string, string | number> = {}): this {
    this.status = status;
    for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    return this;
  }

  end(body?: Buffer | string): this {
    this.writableFinished = true;
    this.done({ status: this.status, headers: this.headers, body: body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body) });
    this.emit('finish');
    this.emit('close');
    return this;
  }

  /** The caller went away: the proxy route stops waiting for it, as it does for a dropped connection. */
  abandon(): void {
    if (this.writableFinished) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/**
 * Runs `handle` on a request made of these parts; resolves with what it answered. `signal` aborting (the MCP
 * client went away) reaches the proxy route as its caller closing the connection.
 */
export function runInProcess(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  parts: { method: string; url: string; headers: Record<string, string>; body: string | undefined; signal?: AbortSignal | undefined },
): Promise<Collected> {
  return new Promise<Collected>((resolve, reject) => {
    const body = parts.body === undefined ? [] : [Buffer.from(parts.body)];
    const req = Object.assign(Readable.from(body), {
      method: parts.method,
      url: parts.url,
      headers: { ...parts.headers, ...(parts.body !== undefined ? { 'content-length': String(Buffer.byteLength(parts.body)) } : {}) },
    });
    const res = new CollectingResponse(resolve);
    parts.signal?.addEventListener('abort', () => res.abandon(), { once: true });
    handle(req as unknown as IncomingMessage, res as unknown as ServerResponse).then(() => {
      // A caller that went away is not answered: there is nothing to collect.
      if (!res.writableFinished) resolve({ status: 499, headers: {}, body: Buffer.alloc(0) });
    }, reject);
  });
}
