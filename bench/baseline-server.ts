// The baseline for bench/api.ts: a bare Fastify 5 server with one route returning a small JSON object,
// run in its own process. Listens on 127.0.0.1:$PORT; stops on SIGTERM/SIGINT.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world', ok: true, n: 42 }));

const stop = () => {
  app.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
