// Forwarding with undici: one keep-alive pool per vendor origin, timeouts, no redirects followed (undici's
// request() never follows them), and an allowlist of headers both ways (fastify-reply-from, backstage proxy).
import { Pool, type Dispatcher } from 'undici';
import { ApiError } from '../errors';
import type { VendorAdapter } from '../vendors/types';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ForwardOptions {
  connectTimeoutMs: number;
  timeoutMs: number;
  /** Largest vendor response buffered; vendor API responses are small JSON documents. */
  maxResponseBytes: number;
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  private readonly bases = new Map<string, { origin: string; basePath: string }>();

  constructor(private readonly opts: ForwardOptions) {}

  private pool(origin: string): Dispatcher {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: 128,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connectTimeout: this.opts.connectTimeoutMs,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async forward(
    vendor: VendorAdapter,
    req: { method: string; pathAndQuery: string; headers: Record<string, string>; body: string | undefined },
  ): Promise<UpstreamResponse> {
    const { origin, basePath } = this.base(vendor.baseUrl);
    const max = this.opts.maxResponseBytes;
    // dispatch() with a handler of our own, not request(): the answer is read into one buffer as it arrives,
    // without the Readable stream and async resource request() sets up for every call.
    const res = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      let status = 0;
      let headers: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      this.pool(origin).dispatch(
        { method: req.method as Dispatcher.HttpMethod, path: basePath + req.pathAndQuery, headers: req.headers, body: req.body ?? null },
        {
          onRequestStart() {},
          onResponseStart(_controller, statusCode, responseHeaders) {
            if (statusCode < 200) return; // 1xx: the real answer follows
            status = statusCode;
            headers = responseHeaders;
          },
          onResponseData(controller, chunk) {
            size += chunk.length;
            if (size > max) {
              tooLarge = true;
              controller.abort(TOO_LARGE);
              return;
            }
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ status, headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
          },
          onResponseError(_controller, err) {
            reject(tooLarge ? new UpstreamError('upstream_unreachable', `${vendor.name} sent a response larger than ${max} bytes.`, true) : upstreamError(err, vendor.name));
          },
        },
      );
    });
    const headers: Record<string, string> = {};
    for (const name of vendor.responseHeaders) {
      const v = res.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    // A redirect's status is returned, never followed, and its Location is not passed on (it could point the
    // caller's client anywhere); any header that is passed is scrubbed of secrets like the body.
    const type = res.headers['content-type'];
    if (typeof type === 'string') headers['content-type'] = type;
    return { status: res.status, headers, body: res.body };
  }

  /** A vendor base URL's origin and path prefix, parsed once. */
  private base(baseUrl: string): { origin: string; basePath: string } {
    let b = this.bases.get(baseUrl);
    if (!b) {
      const url = new URL(baseUrl);
      b = { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
      this.bases.set(baseUrl, b);
    }
    return b;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

/** What `collect` rejects with, and what aborts a vendor's answer, when a body passes its limit. */
export const TOO_LARGE = new Error('body too large');

/**
 * A request body read to its end into one buffer, refused past `max` bytes. Plain stream events: an async
 * iterator per body cost a measurable share of a proxied call's CPU.
 */
export function collect(stream: NodeJS.ReadableStream & { destroy(): void }, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        stream.removeListener('data', onData);
        stream.destroy();
        reject(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.on('error', reject);
    stream.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
  });
}

/** An upstream failure, and whether the vendor may have acted on the request before it failed. */
export class UpstreamError extends ApiError {
  constructor(
    code: 'upstream_timeout' | 'upstream_unreachable',
    message: string,
    readonly mayHaveActed: boolean,
  ) {
    super(code, message);
  }
}

// Failures before a connection existed: the vendor never saw the request.
const NEVER_SENT = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'];

/** Maps undici's error codes (not classes: jest runs each file in its own realm) to 502/504. */
export function upstreamError(err: unknown, vendorName: string): UpstreamError {
  const code = (err as { code?: string }).code ?? '';
  const mayHaveActed = !NEVER_SENT.includes(code);
  if (['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'].includes(code)) {
    return new UpstreamError('upstream_timeout', `${vendorName} did not answer in time${mayHaveActed ? '; the call may have taken effect' : ''}.`, mayHaveActed);
  }
  return new UpstreamError('upstream_unreachable', `${vendorName} could not be reached (${code || 'connection failed'}).`, mayHaveActed);
}

/** Request headers for the vendor: the adapter's allowlist only, then the real secret. */
export function upstreamHeaders(vendor: VendorAdapter, inbound: Record<string, string>, credentials: Record<string, string>, contentType: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of vendor.requestHeaders) {
    const v = inbound[name];
    if (v !== undefined) out[name] = v;
  }
  if (contentType !== undefined) out['content-type'] = contentType;
  vendor.injectAuth(out, credentials);
  return out;
}
