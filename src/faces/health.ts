import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

export async function healthRoutes(
  fastify: FastifyInstance,
  opts: { ready: () => Promise<boolean> },
): Promise<void> {
  const Status = Type.Object({ status: Type.String() });
  const Live = Type.Object({
    status: Type.String(),
    database_id: Type.Optional(
      Type.String({
        description:
          'the random id of the database this server uses, so `signet bootstrap` can tell a server on another data folder',
      }),
    ),
  });
  // Read once: liveness must not depend on the database, so a failed read only leaves the id out.
  let databaseId: string | null = null;
  /** Liveness: the process answers. */
  fastify.get('/healthz', { schema: { tags: ['health'], response: { 200: Live } } }, async () => {
    databaseId ??= await fastify.services.instance.read().then(
      (f) => f.databaseId,
      () => null,
    );
    return databaseId ? { status: 'ok', database_id: databaseId } : { status: 'ok' };
  });
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
