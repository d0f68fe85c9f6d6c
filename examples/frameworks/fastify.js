// Fastify 5 over HTTPS with TLS session resumption: attach, stats, detach on close.
const fs = require('node:fs');
const Fastify = require('fastify');
const { attach } = require('tls-resumption');

const app = Fastify({ https: { key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT) } });
const cache = attach(app.server); // app.server is the https.Server Fastify made

app.get('/', async (req) => `resumed: ${req.raw.socket.isSessionReused()}\n`);
app.get('/tls-stats', async () => cache.stats());
app.addHook('onClose', async () => cache.detach());

app.listen({ port: Number(process.env.PORT ?? 8443), host: '127.0.0.1' }).then(() => {
  console.log(JSON.stringify({ port: app.server.address().port }));
});
process.once('SIGTERM', () => app.close().then(() => console.log(JSON.stringify({ attached: cache.attached }))));
