// Koa 3 over HTTPS with TLS session resumption: attach, stats, detach on close.
const fs = require('node:fs');
const https = require('node:https');
const Koa = require('koa');
const { attach } = require('tls-resumption');

const app = new Koa();
const server = https.createServer({ key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT) }, app.callback());
const cache = attach(server);

app.use(async (ctx) => {
  if (ctx.path === '/tls-stats') ctx.body = cache.stats();
  else ctx.body = `resumed: ${ctx.req.socket.isSessionReused()}\n`;
});

server.on('close', () => cache.detach());
server.listen(Number(process.env.PORT ?? 8443), () => console.log(JSON.stringify({ port: server.address().port })));
process.once('SIGTERM', () => server.close(() => console.log(JSON.stringify({ attached: cache.attached }))));
