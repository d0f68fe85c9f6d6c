// Express 5 over HTTPS with TLS session resumption: attach, stats, detach on close.
const fs = require('node:fs');
const https = require('node:https');
const express = require('express');
const { attach } = require('tls-resumption');

const app = express();
const server = https.createServer({ key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT) }, app);
const cache = attach(server); // session IDs and tickets, before the first connection

app.get('/', (req, res) => res.send(`resumed: ${req.socket.isSessionReused()}\n`));
app.get('/tls-stats', (req, res) => res.json(cache.stats()));

server.on('close', () => cache.detach());
server.listen(Number(process.env.PORT ?? 8443), () => console.log(JSON.stringify({ port: server.address().port })));
process.once('SIGTERM', () => server.close(() => console.log(JSON.stringify({ attached: cache.attached }))));
