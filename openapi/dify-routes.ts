// GET /dify/openapi/{vendor}.yaml?endpoints=… — the same tool schema as `keybrake generate dify-tool`, served by
// the running service so that Dify can import it from a URL. Public: the documents hold no secret.
import { Router, type Request } from 'express';
import { ApiError } from '../service/errors';
import { GenerateError, generateDifyTool } from './generate';

export function difyDocuments(ctx: { publicUrl: string | undefined }): Router {
  const router = Router();
  router.get('/dify/openapi/:file', (req: Request, res) => {
    const m = /^([a-z][a-z0-9-]*)\.(yaml|yml|json)$/.exec(req.params.file as string);
    if (!m) throw new ApiError('not_found', 'Ask for /dify/openapi/{vendor}.yaml or .json');
    const endpoints = typeof req.query.endpoints === 'string' ? req.query.endpoints : undefined;
    // Behind a reverse proxy, set KEYBRAKE_PUBLIC_URL: the Host header alone says nothing about https.
    const proxyUrl = ctx.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    try {
      const format = m[2] === 'json' ? 'json' : 'yaml';
      const out = generateDifyTool({ vendor: m[1], endpoints, proxyUrl, format });
      res.type(format === 'json' ? 'application/json' : 'application/yaml').send(out.text);
    } catch (err) {
      if (err instanceof GenerateError) throw new ApiError(/unknown vendor/.test(err.message) ? 'not_found' : 'invalid_request', err.message.replace(/^--/, ''));
      throw err;
    }
  });
  return router;
}
