import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

export async function healthRoutes(
  fastify: FastifyInstance,
  opts: { ready: () => Promise<boolean> },
): Promise<void> {
  const Status = Type.Object({ status: Type.String() });
  /** Liveness: the process answers. */
  fastify.get('/healthz', { schema: { tags: ['health'], response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));
  /** Readiness: the database answers too. */
  fastify.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: Status, 503: Status } } },
    async (_req, reply) => {
      const ok = await opts.ready().catch(() => false);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'database unavailable' });
    },
  );
}
