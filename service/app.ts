// createApp(deps): the HTTP surface, with every dependency passed in (tests build it with their own).
import { existsSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { ApiError, errorBody, errorHeaders } from './errors';
import { createAdminRouter, type AdminDeps } from './http/admin-routes';
import { createApprovalReview } from './http/approval-routes';
import { createMcpHandler } from './http/mcp-route';
import { createProxyHandler } from './http/proxy-route';
import type { ProxyDeps } from './http/proxy-deps';
import { whoami } from './http/whoami';
import { ping } from './store/db';
import { settlementsDone } from './store/ledger';

/** service/console in the sources; the same folder when running from dist/ (tsc does not copy static files). */
function consoleDir(): string {
  const here = join(__dirname, 'console');
  return existsSync(here) ? here : join(__dirname, '..', '..', 'service', 'console');
}

export type AppDeps = AdminDeps & ProxyDeps & { log: Logger; publicRoutes?: express.Router[] };

/**
 * The request listener: proxy calls (/{vendor}/…) go straight to the proxy, which reads the raw URL and body
 * itself (no router or body parser may touch them first, and the hot path pays for no framework); /mcp to the MCP
 * server, which hands its tool calls to the same proxy; everything else goes to the Express app.
 */
export function createApp(deps: AppDeps): RequestListener {
  const app = createAdminApp(deps);
  const proxy = createProxyHandler(deps);
  const mcp = createMcpHandler({ db: deps.db, registry: deps.registry, proxy, log: deps.log });
  const fail = (res: ServerResponse) => (err: unknown) => {
    const apiError = unhandled(deps.log, err);
    if (res.headersSent) return void res.destroy();
    const text = JSON.stringify(errorBody(apiError));
    res.writeHead(apiError.status, { ...errorHeaders(apiError), 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    let url = req.url ?? '/';
    if (/^\/mcp\/?(\?|$)/.test(url)) return void mcp(req, res).catch(fail(res));
    // /dify/{vendor}/…: the same proxy, answering in statuses Dify's HTTP client passes on (http/answer.ts).
    const audience = url.startsWith('/dify/') ? 'dify' : 'sdk';
    if (audience === 'dify') url = url.slice('/dify'.length);
    const slash = url.indexOf('/', 1);
    const end = slash === -1 ? url.search(/[?]|$/) : slash;
    const vendor = deps.registry.get(url.slice(1, end));
    if (!vendor) return void app(req, res);
    const rest = slash === -1 ? '/' + url.slice(end) : url.slice(slash);
    proxy(req, res, vendor, rest, audience).catch(fail(res));
  };
}

/** The admin API's paths (everything else that is not a vendor, the console or a public route is a 404). */
const ADMIN_ROUTES = [/^\/vault\/keys(\/|$)/, /^\/budgets(\/|$)/, /^\/vendors(\/|$)/, /^\/audit(\/|$)/, /^\/usage\/?$/, /^\/webhooks\//, /^\/metrics\/?$/, /^\/approvals(\/|$)/];

/** Where a call that names no route probably meant to go. */
function notFoundMessage(method: string, path: string): string {
  const guess = /^\/v[12]\//.test(path) ? 'stripe' : path.startsWith('/2010-04-01/') ? 'twilio' : /^\/(emails|broadcasts|domains)(\/|$)/.test(path) ? 'resend' : undefined;
  return `No route for ${method} ${path}. Proxy calls go to /{vendor}/…${guess ? `: did you mean /${guess}${path}?` : ', e.g. /stripe/v1/payment_intents.'} The admin API is under /vault/keys, /budgets, /approvals, /vendors, /audit, /usage, /webhooks and /metrics.`;
}

/** An error nothing else handled: logged with its stack, answered as a 500 that says nothing was forwarded. */
function unhandled(log: Logger, err: unknown): ApiError {
  log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'unhandled error');
  return new ApiError('internal_error', 'Internal error; the call was not forwarded.');
}

function createAdminApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Proxied calls may settle just after they are answered: what this instance reports includes them.
  app.use((_req: Request, _res: Response, next: NextFunction) => {
    settlementsDone(deps.db).then(() => next(), next);
  });

  // Authenticated by the vault key itself, so it sits before the admin router.
  app.get('/vault/whoami', (req, res, next) => {
    whoami(deps.db, deps.clock, req, res).catch(() => next(new ApiError('store_unavailable', 'Keybrake cannot reach its database.')));
  });

  // The console: static files under a strict Content-Security-Policy (no inline script or style, nothing from
  // elsewhere); it talks to the admin API with the key the operator types in.
  app.use(
    '/console',
    (_req: Request, res: Response, next: NextFunction) => {
      res.set({
        'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
      next();
    },
    express.static(consoleDir(), { index: 'index.html', redirect: true }),
  );

  app.get('/', (_req, res) => {
    res.redirect(302, '/console/');
  });

  app.get('/healthz', async (_req, res) => {
    try {
      await ping(deps.db);
      res.json({ status: 'ok', store: deps.db.dialect });
    } catch {
      res.status(503).json({ status: 'unavailable', store: deps.db.dialect });
    }
  });

  for (const router of deps.publicRoutes ?? []) app.use(router);

  // The links in approval.requested: signed, each for one approval and one action, so before the admin key's check.
  app.use(createApprovalReview({ db: deps.db, clock: deps.clock, linkKey: deps.approvalKey }));

  // Route first: a path that is no admin route is a 404 that names the proxy's form, whatever the token.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (ADMIN_ROUTES.some((r) => r.test(req.path))) return next();
    next(new ApiError('not_found', notFoundMessage(req.method, req.path)));
  });

  app.use(express.json({ limit: '256kb', strict: true }));
  app.use(createAdminRouter(deps));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ApiError('not_found', notFoundMessage(req.method, req.path)));
  });

  // One error middleware translates everything into the one error body.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    let apiError: ApiError;
    if (err instanceof ApiError) apiError = err;
    else if ((err as { type?: string }).type === 'entity.parse.failed') apiError = new ApiError('invalid_request', 'body: is not valid JSON');
    else if ((err as { type?: string }).type === 'entity.too.large') apiError = new ApiError('body_too_large', 'body: is too large');
    else apiError = unhandled(deps.log, err);
    res.status(apiError.status).set(errorHeaders(apiError)).json(errorBody(apiError));
  });

  return app;
}
