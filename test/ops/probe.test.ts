import { execFile } from 'node:child_process';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { native } from '../../src/common/native';
// probe and probeFleet as users import them: from the 'tls-resumption/probe' entry.
import { type FleetProbeReport, type ProbeReport, probe, probeFleet } from '../../src/entries/probe';
import { formatFleetReport, formatProbeReport, unwrapClientSession } from '../../src/ops/probe';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { type SServer, startSServer } from '../support/s_server';
import { close, connect, listen, tlsServer } from '../support/tls';

const log = (name: string, r: ProbeReport) => process.env.PROBE_LOG && process.stderr.write(`--- ${name}\n${formatProbeReport(r)}`);

describe('probe: what a server does about resumption', () => {
  let server: tls.Server | undefined;
  let sserver: SServer | undefined;
  afterEach(async () => {
    await close(server);
    server = undefined;
    await sserver?.stop();
    sserver = undefined;
  });

  test('stock Node: tickets only, 2 TLS 1.3 tickets, none renewed, single-use clients resume 2 of 3', async () => {
    server = tlsServer();
    const port = await listen(server);
    const r = await probe('127.0.0.1', port, { servername: 'localhost' });
    log('stock node', r);
    expect(r.servername).toBe('localhost');
    expect(r.tls12).toMatchObject({
      supported: true,
      sessionId: { issued: true, attempts: 3, resumed: 0 },
      ticket: { issued: true, attempts: 3, resumed: 3, lifetimeHintSeconds: 7200, renewedOnResume: false },
    });
    expect(r.tls13).toMatchObject({
      supported: true,
      ticketsPerHandshake: 2,
      lifetimeHintSeconds: 7200,
      ticket: { attempts: 3, resumed: 3 },
      singleUse: { attempts: 3, resumed: 2 },
      renewedOnResume: false,
      ticketsPerResumption: 0,
    });
  });

  test('attached Node server with tickets off: session IDs and stateful TLS 1.3 tickets resume', async () => {
    server = tlsServer({ noTickets: true });
    attach(server, { cache: { timeoutSeconds: 600 }, tickets: { tls13Count: 1 } });
    const port = await listen(server);
    const r = await probe('127.0.0.1', port);
    log('attached, tickets off', r);
    expect(r.servername).toBeNull();
    expect(r.tls12).toMatchObject({ supported: true, sessionId: { issued: true, resumed: 3 }, ticket: { issued: false, attempts: 0 } });
    expect(r.tls13).toMatchObject({ supported: true, ticketsPerHandshake: 1, lifetimeHintSeconds: 600, ticket: { resumed: 3 } });
    // A stateful TLS 1.3 ticket is a session ID: 32 bytes.
    expect(r.tls13.ticketBytes).toBe(32);
  });

  test('attached Node server with tickets on: TLS 1.2 session IDs now resume too', async () => {
    server = tlsServer();
    attach(server);
    const port = await listen(server);
    const r = await probe('127.0.0.1', port, { connections: 3 });
    log('attached, tickets on', r);
    expect(r.tls12.sessionId).toMatchObject({ attempts: 2, resumed: 2 });
    expect(r.tls12.ticket).toMatchObject({ issued: true, resumed: 2 });
    expect(r.tls13.ticketsPerHandshake).toBe(2);
  });

  test('openssl s_server: tickets, renewed TLS 1.3 tickets on resumption', async () => {
    sserver = await startSServer();
    const r = await probe('127.0.0.1', sserver.port, { servername: 'localhost' });
    log('s_server', r);
    expect(r.tls12).toMatchObject({ supported: true, ticket: { issued: true, resumed: 3 } });
    expect(r.tls12.sessionId.resumed).toBe(3);
    expect(r.tls12.ticket.lifetimeHintSeconds).toBeGreaterThan(0);
    expect(r.tls13).toMatchObject({
      supported: true,
      ticketsPerHandshake: 2,
      ticket: { resumed: 3 },
      singleUse: { resumed: 3 },
      renewedOnResume: true,
    });
  });

  test('openssl s_server -no_ticket: session IDs and stateful TLS 1.3 tickets', async () => {
    sserver = await startSServer(['-no_ticket']);
    const r = await probe('127.0.0.1', sserver.port, { servername: 'localhost' });
    log('s_server -no_ticket', r);
    expect(r.tls12).toMatchObject({ supported: true, sessionId: { resumed: 3 }, ticket: { issued: false } });
    expect(r.tls13.supported).toBe(true);
    expect(r.tls13.ticket.resumed).toBe(3);
  });

  test('a version the server refuses is reported, not thrown', async () => {
    server = tlsServer({ minVersion: 'TLSv1.3' });
    const port = await listen(server);
    const r = await probe('127.0.0.1', port, { connections: 2 });
    expect(r.tls12.supported).toBe(false);
    expect(r.tls12.error).toMatch(/version|alert|protocol/i);
    expect(r.tls13.supported).toBe(true);
  });

  test('inspectSession: reads a real client session, null for bytes that are not one', async () => {
    server = tlsServer();
    const port = await listen(server);
    const { session } = await connect(port, { version: 'TLSv1.2' });
    // Node 22+ wraps a client session with the identity it is bound to; 20 hands out the DER.
    const { der, identity } = unwrapClientSession(session!);
    expect(identity).toBe(Number(process.versions.node.split('.')[0]) >= 22 ? 'localhost' : null);
    expect(native.inspectSession(der)).toEqual(native.inspectSession(session!));
    const info = native.inspectSession(session!);
    expect(info).toMatchObject({ protocol: 'TLSv1.2', hasTicket: true, lifetimeHintSeconds: 7200 });
    expect(info!.ticket.length).toBeGreaterThan(100);
    expect(native.inspectSession(Buffer.from('not a session'))).toBeNull();
    // A TypeError from the addon (its realm differs from jest's sandbox, so match the message).
    expect(() => native.inspectSession('x' as unknown as Buffer)).toThrow(/inspectSession: expected a Buffer/);
  });

  test('bad arguments: RangeError / TypeError naming the field', async () => {
    await expect(probe('127.0.0.1', 0)).rejects.toThrow(/"port" must be an integer between 1 and 65535/);
    await expect(probe('127.0.0.1', 443, { connections: 1 })).rejects.toThrow(RangeError);
    await expect(probe('', 443)).rejects.toThrow(TypeError);
  });

  describe('probe A B: a fleet of two', () => {
    const pair: tls.Server[] = [];
    afterEach(async () => {
      await Promise.all(pair.splice(0).map((s) => close(s)));
    });
    async function two(
      a: { ring: TicketKeyRing; context: string },
      b: { ring: TicketKeyRing; context: string },
    ): Promise<[number, number]> {
      const ports: number[] = [];
      for (const m of [a, b]) {
        const srv = tlsServer({ sessionIdContext: m.context });
        attach(srv, { tickets: { keyRing: m.ring } });
        pair.push(srv);
        ports.push(await listen(srv));
      }
      return [ports[0]!, ports[1]!];
    }

    test('same keys, same context: tickets resume both ways; session IDs do not (no shared session cache)', async () => {
      const secret = Buffer.alloc(32, 7);
      const ringA = TicketKeyRing.fromSecret(secret);
      const ringB = TicketKeyRing.fromSecret(secret);
      const [pa, pb] = await two({ ring: ringA, context: 'fleet' }, { ring: ringB, context: 'fleet' });
      const r = await probeFleet(
        { host: '127.0.0.1', port: pa, servername: 'localhost' },
        { host: '127.0.0.1', port: pb, servername: 'localhost' },
      );
      process.env.PROBE_LOG && process.stderr.write(formatFleetReport(r));
      const by = Object.fromEntries(r.pairs.map((p) => [p.mechanism, p]));
      for (const m of ['tls12Ticket', 'tls13Ticket']) {
        expect(by[m]).toMatchObject({
          ownA: true,
          ownB: true,
          aToB: { issued: true, offered: true, resumed: true, ticketSent: true, ticketAccepted: true, cipherChanged: false },
          bToA: { resumed: true, ticketAccepted: true },
        });
        expect(by[m]!.verdict).toMatch(/shared/);
      }
      // The ring renews TLS 1.3 tickets on resumption; TLS 1.2 tickets under the current key are kept.
      expect(by.tls13Ticket!.aToB.newTicket).toBe(true);
      expect(by.tls12Ticket!.aToB.newTicket).toBe(false);
      expect(by.sessionId).toMatchObject({ ownA: true, ownB: true, aToB: { resumed: false, newTicket: true }, bToA: { resumed: false } });
      expect(by.sessionId!.verdict).toBe('session IDs: no shared session cache');
      expect(r.verdict).toBe('session IDs: no shared session cache');
      expect(formatFleetReport(r)).toContain('verdict: session IDs: no shared session cache');
      ringA.close();
      ringB.close();
    });

    test('different keys, or same keys and different session-ID contexts: "different ticket keys or session-ID contexts"', async () => {
      const keysDiffer = await two(
        { ring: TicketKeyRing.generate(), context: 'fleet' },
        { ring: TicketKeyRing.generate(), context: 'fleet' },
      );
      const r1 = await probeFleet({ host: '127.0.0.1', port: keysDiffer[0] }, { host: '127.0.0.1', port: keysDiffer[1] });
      const ring = TicketKeyRing.generate();
      const contextsDiffer = await two({ ring, context: 'one' }, { ring, context: 'two' });
      const r2 = await probeFleet({ host: '127.0.0.1', port: contextsDiffer[0] }, { host: '127.0.0.1', port: contextsDiffer[1] });
      for (const r of [r1, r2]) {
        for (const p of r.pairs.filter((x) => x.mechanism !== 'sessionId')) {
          expect(p).toMatchObject({
            ownA: true,
            ownB: true,
            aToB: { offered: true, ticketSent: true, ticketAccepted: false, resumed: false, newTicket: true },
          });
          expect(p.verdict).toMatch(/tickets: different ticket keys or session-ID contexts$/);
        }
        expect(r.verdict).toContain('TLS 1.2 tickets: different ticket keys or session-ID contexts');
        expect(r.verdict).toContain('TLS 1.3 tickets: different ticket keys or session-ID contexts');
      }
      ring.close();
    });

    test('bad arguments name the field', async () => {
      await expect(probeFleet({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 1 })).rejects.toThrow(
        /"a.port" must be an integer between 1 and 65535/,
      );
      await expect(probeFleet({ host: '127.0.0.1', port: 1 }, { host: '', port: 1 })).rejects.toThrow(TypeError);
    });

    test('CLI: probe A B --json', async () => {
      const ring = TicketKeyRing.generate();
      const [pa, pb] = await two({ ring, context: 'cli' }, { ring, context: 'cli' });
      const main = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
      const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, [main, 'probe', `127.0.0.1:${pa}`, `127.0.0.1:${pb}`, '--json'], (err, stdout) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
      expect(code).toBe(0);
      const r = JSON.parse(stdout) as FleetProbeReport;
      expect(r.pairs.map((p) => p.mechanism)).toEqual(['sessionId', 'tls12Ticket', 'tls13Ticket']);
      expect(r.verdict).toBe('session IDs: no shared session cache');
      ring.close();
    });
  });

  test('CLI: probe HOST:PORT --json prints the report', async () => {
    server = tlsServer();
    const port = await listen(server);
    const main = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [main, 'probe', `127.0.0.1:${port}`, '--servername', 'localhost', '--connections', '2', '--json'],
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(code).toBe(0);
    const r = JSON.parse(stdout) as ProbeReport;
    expect(r.tls13.ticketsPerHandshake).toBe(2);
    expect(r.tls12.ticket.resumed).toBe(1);
  });
});
