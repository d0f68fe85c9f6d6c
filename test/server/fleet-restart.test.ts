/**
 * A real restart of a replicating fleet member: a separate process, killed with SIGKILL (nothing
 * flushed, nothing said goodbye) while the others keep issuing sessions, then started again. Once
 * `replicated()` resolved (the member listens only after it), it resumes the sessions the others
 * issued before it went down and while it was down, TLS 1.2 session IDs and TLS 1.3 stateful
 * tickets alike, and no handshake anywhere failed. Real processes, real redis-server, real TLS.
 */
import * as crypto from 'node:crypto';

import { ask, killAllMembers, type Member, startMember, stopMember } from '../support/fleet';
import { type RedisServer, startRedis } from '../support/redis';
import { connect, type Version } from '../support/tls';

const secret = crypto.randomBytes(32).toString('hex');

interface Report {
  stats: {
    fleet: { replication: { caughtUp: boolean; applied: number; rejected: number; published: number } };
    resumption: { failed: Record<string, number> };
  };
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(() => killAllMembers());
afterAll(async () => {
  await redis?.stop();
});

const versionOf = (i: number): Version => (i % 2 ? 'TLSv1.3' : 'TLSv1.2');

test('a member killed (SIGKILL) and started again resumes what the others issued before and while it was down', async () => {
  const env = { REDIS_PORT: String(redis.port), FLEET_SECRET: secret, FLEET: 'replicate', PREFIX: 'restart:' };
  const [a, b] = await Promise.all([startMember(env), startMember(env)]);
  let c: Member = await startMember(env);
  let failed = 0;
  /** A new client on `a` or `b` (alternately): the session it got. */
  const issue = async (i: number): Promise<Buffer | undefined> => {
    try {
      return (await connect((i % 4 < 2 ? a : b).port, { version: versionOf(i), noTicket: true })).session;
    } catch {
      failed++;
      return undefined;
    }
  };
  const issueMany = async (from: number, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => issue(from + i))) as Promise<Array<Buffer | undefined>>;

  const before = await issueMany(0, 40);
  // The doomed member served too: once written to the stream (a session issued in the last
  // milliseconds before a SIGKILL may not be), its clients' sessions outlive it like anyone's.
  const onDoomed = await Promise.all(Array.from({ length: 4 }, (_, i) => connect(c.port, { version: versionOf(i), noTicket: true })));
  before.push(...onDoomed.map((r) => r.session));
  // 2 TLS 1.2 sessions and 2 TLS 1.3 connections of 2 stateful tickets each.
  while ((await ask<Report>(c)).stats.fleet.replication.published < 6) await new Promise((r) => setTimeout(r, 20));

  c.child.kill('SIGKILL');
  await new Promise((r) => c.child.once('exit', r));
  const during = await issueMany(100, 40);

  // Started again while the others keep issuing sessions.
  let issuing = true;
  const background = (async () => {
    for (let i = 200; issuing; i += 4) await issueMany(i, 4);
  })();
  c = await startMember(env);
  const report = await ask<Report>(c);
  expect(report.stats.fleet.replication).toMatchObject({ caughtUp: true, rejected: 0 });

  const back = await Promise.all(
    [...before, ...during].map(async (session, i) => {
      try {
        return (await connect(c.port, { version: versionOf(i), noTicket: true, session })).reused;
      } catch {
        failed++;
        return false;
      }
    }),
  );
  issuing = false;
  await background;
  const offered = [...before, ...during].filter((s) => s !== undefined).length;
  expect(offered).toBe(84);
  const after = await ask<Report>(c);
  const resumed = back.filter(Boolean).length;
  // >= 0.99 of 84 is all of them; the member's own account of any miss goes into the failure message.
  const seen = { resumed, misses: resumed / offered < 0.99 ? after.stats : undefined };
  expect(seen).toEqual({ resumed: 84, misses: undefined });
  expect(failed).toBe(0);
  expect(after.stats.resumption.failed.notYetReplicated ?? 0).toBe(0);
  await Promise.all([a, b, c].map(stopMember));
  // Four member starts (a process each, Node plus ioredis) on a loaded CI machine.
}, 120_000);
