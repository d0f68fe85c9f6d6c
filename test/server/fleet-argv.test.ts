/**
 * Fleets whose members were started with DIFFERENT command lines (a port argument, as on real
 * machines): Node derives its default session-ID context from argv, so without ours they resume
 * only the clients they served themselves. Clients land on members at random; every returning
 * client must resume (>= 0.99) with fromSecret, with fromRedis and with the fleet session store,
 * and Redis killed mid-run fails no handshake.
 */
import * as crypto from 'node:crypto';

import { ask, killAllMembers, population, startMember, stopMember } from '../support/fleet';
import { type RedisServer, startRedis } from '../support/redis';
import { connect } from '../support/tls';

interface MemberReport {
  stats: { sessionIdContext: { source: string; fingerprint: string }; fleet?: { hits?: number; lookups?: number } };
  argv: string[];
}

const secret = crypto.randomBytes(32).toString('hex');
const argvOf = (i: number) => ['--listen-port', String(8443 + i), `--config=/etc/member-${i}.conf`];

describe('fleet members with different command lines', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(() => killAllMembers());
  afterAll(async () => {
    await redis.stop();
  });

  async function fleet(env: Record<string, string>, n = 2) {
    const members = await Promise.all(
      Array.from({ length: n }, (_, i) => startMember({ REDIS_PORT: String(redis.port), FLEET_SECRET: secret, ...env }, argvOf(i))),
    );
    const reports = await Promise.all(members.map((m) => ask<MemberReport>(m)));
    expect(reports[0]!.argv).not.toEqual(reports[1]!.argv);
    return { members, ports: members.map((m) => m.port), reports };
  }

  test.each([
    ['fromSecret', { RING: 'secret', TICKETS: '1' }, 'ring'],
    ['fromRedis', { RING: 'redis', TICKETS: '1', POLL: '0.5' }, 'ring'],
  ])(
    '%s ring: TLS 1.2 and TLS 1.3 tickets resume >= 0.99 at random placement; the members show one context fingerprint',
    async (_name, env, source) => {
      const { members, ports, reports } = await fleet(env);
      expect(reports.map((r) => r.stats.sessionIdContext.source)).toEqual([source, source]);
      expect(reports[0]!.stats.sessionIdContext.fingerprint).toBe(reports[1]!.stats.sessionIdContext.fingerprint);
      const r12 = await population(ports, 16, 7, 'TLSv1.2');
      const r13 = await population(ports, 16, 7, 'TLSv1.3');
      await Promise.all(members.map(stopMember));
      expect({ r12, r13 }).toEqual({ r12: expect.any(Number), r13: expect.any(Number) });
      expect(r12).toBeGreaterThanOrEqual(0.99);
      expect(r13).toBeGreaterThanOrEqual(0.99);
    },
  );

  test('fleet session store: TLS 1.2 session IDs (tickets off) resume >= 0.99 at random placement', async () => {
    const { members, ports, reports } = await fleet({ FLEET: '1', LOOKUP_MS: '1000' });
    expect(reports.map((r) => r.stats.sessionIdContext.source)).toEqual(['fleet', 'fleet']);
    const ratio = await population(ports, 16, 7, 'TLSv1.2', { noTicket: true });
    const after = await Promise.all(members.map((m) => ask<MemberReport>(m)));
    await Promise.all(members.map(stopMember));
    expect(ratio).toBeGreaterThanOrEqual(0.99);
    expect(after[0]!.stats.fleet!.hits! + after[1]!.stats.fleet!.hits!).toBeGreaterThan(0);
  });

  test('control: each member with a context of its own (what Node derives from argv) resumes only its own clients', async () => {
    const members = await Promise.all(
      [0, 1].map((i) => startMember({ FLEET_SECRET: secret, RING: 'secret', TICKETS: '1', SID: `argv-${i}` }, argvOf(i))),
    );
    const ratio = await population(
      members.map((m) => m.port),
      16,
      7,
      'TLSv1.3',
    );
    await Promise.all(members.map(stopMember));
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.7);
  });

  test('Redis killed mid-run (fromRedis ring + fleet store): no handshake fails, tickets keep resuming', async () => {
    const own = await startRedis();
    const env = {
      REDIS_PORT: String(own.port),
      FLEET_SECRET: secret,
      RING: 'redis',
      TICKETS: '1',
      POLL: '0.3',
      FLEET: '1',
      LOOKUP_MS: '50',
    };
    const members = await Promise.all([0, 1].map((i) => startMember(env, argvOf(i))));
    const ports = members.map((m) => m.port);
    const sessions: Array<Buffer | undefined> = Array.from({ length: 12 }, () => undefined);
    let failed = 0;
    let resumedAfterKill = 0;
    let returningAfterKill = 0;
    for (let round = 0; round < 8; round++) {
      if (round === 3) await own.stop();
      await Promise.all(
        sessions.map(async (session, i) => {
          const version = i % 2 === 0 ? 'TLSv1.3' : 'TLSv1.2';
          try {
            const r = await connect(ports[crypto.randomInt(2)]!, { version, session });
            if (round >= 3 && session) {
              returningAfterKill++;
              if (r.reused) resumedAfterKill++;
            }
            sessions[i] = r.session ?? session;
          } catch {
            failed++;
          }
        }),
      );
    }
    await Promise.all(members.map(stopMember));
    expect(failed).toBe(0);
    expect(resumedAfterKill / returningAfterKill).toBeGreaterThanOrEqual(0.99);
  });
});
