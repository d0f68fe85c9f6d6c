// Node's http2 compatibility API (HTTP/2, and HTTP/1.1 through allowHTTP1) with TLS session
// resumption: attach, stats, detach on close.
const fs = require('node:fs');
const http2 = require('node:http2');
const { attach } = require('tls-resumption');

const server = http2.createSecureServer(
  { key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT), allowHTTP1: true },
  (req, res) => {
    // req.socket is a proxy of the TLS socket for HTTP/2; req.stream.session.socket too.
    if (req.url === '/tls-stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(cache.stats()));
    } else {
      res.end(`resumed: ${req.socket.isSessionReused()}\n`);
    }
  },
);
const cache = attach(server);

server.on('close', () => cache.detach());
server.listen(Number(process.env.PORT ?? 8443), () => console.log(JSON.stringify({ port: server.address().port })));
process.once('SIGTERM', () => server.close(() => console.log(JSON.stringify({ attached: cache.attached }))));
