import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { streamWritesPerItem } from '../support/table-stream';
import {
  DISPLAY_CODE,
  HARNESS_START,
  bulkGenerate,
  codeItemsOf,
  createCreator,
  generatedEventsOf,
  listAllCodes,
  parseCsv,
  publishedEvents,
  startPipelineHarness,
  waitForJob,
  type PipelineHarness,
} from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;
beforeAll(async () => {
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
});
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

describe('a file job through the whole pipeline', () => {
  test('1000 codes end completed: one CSV document of 1000 distinct codes, the same 1000 listed, one generated event, at most 1.3 item writes a code', async () => {
    const creator = await createCreator(harness);
    await harness.idle();
    const writesBefore = await streamWritesPerItem(harness.table.tableName);
    const answer = await bulkGenerate(harness, creator.token, {
      plan_id: creator.planId,
      quantity: 1000,
      export_type: 'file',
      expiry_preset: '1_week',
    });
    expect(answer.status).toBe(202);
    expect(answer.body.data).toMatchObject({ status: 'queued', plan_id: creator.planId, quantity: 1000 });
    const jobId: string = answer.body.data.job_id;
    expect(jobId).toMatch(/^mjb_/);

    const job = await waitForJob(harness, creator.token, jobId, 280_000);
    expect(job).toMatchObject({ status: 'completed', generated_count: 1000, delivered_count: 1000, failure: null });
    // Every item write of the job, from the API's to the delivery's, as the table's stream holds them.
    await harness.idle();
    const writesAfter = await streamWritesPerItem(harness.table.tableName);
    let writes = 0;
    for (const [key, count] of writesAfter) writes += count - (writesBefore.get(key) ?? 0);
    expect(writes).toBeGreaterThanOrEqual(1000);
    expect(writes / 1000).toBeLessThanOrEqual(1.3);
    const expiresAt = new Date(HARNESS_START.getTime() + 7 * 86_400_000).toISOString();
    expect(job.expires_at).toBe(expiresAt);

    const documents = fake.documentsTo(creator.chatId);
    expect(documents).toHaveLength(1);
    expect(fake.callsTo('sendDocument')).toHaveLength(1);
    const csv = parseCsv(documents[0]!.content);
    expect(csv.header).toEqual(['code', 'plan_id', 'batch_id', 'expires_at']);
    expect(csv.rows).toHaveLength(1000);
    for (const row of csv.rows) {
      expect(row.code).toMatch(DISPLAY_CODE);
      expect(row).toEqual({ code: row.code, plan_id: creator.planId, batch_id: job.batch_id, expires_at: expiresAt });
    }
    const fileCodes = csv.rows.map((row) => row.code!);
    expect(new Set(fileCodes).size).toBe(1000);

    const listed = await listAllCodes(harness, creator.token, creator.planId, { limit: '300' });
    expect(listed.pages).toBe(4);
    expect(listed.codes.map((code) => code.code).sort()).toEqual([...fileCodes].sort());
    expect(new Set(listed.codes.map((code) => code.job_id))).toEqual(new Set([jobId]));
    expect(listed.codes.every((code) => code.status === 'active' && code.batch_id === job.batch_id && code.expires_at === expiresAt)).toBe(true);
    expect(await codeItemsOf(harness, jobId)).toHaveLength(1000);

    const generated = await generatedEventsOf(harness, job.batch_id);
    expect(generated).toHaveLength(1);
    expect(generated[0]!.data).toEqual({ batch_id: job.batch_id, plan_id: creator.planId, count: 1000, expires_at: expiresAt });
    expect(generated[0]!.project_id).toBe(creator.projectId);
    expect((await publishedEvents(harness)).filter((event) => event.type === 'access_code.generated')).toHaveLength(1);
  }, 300_000);
});

describe('jobs side by side', () => {
  test('two jobs for the same plan at once both complete, with no code shared between them', async () => {
    const creator = await createCreator(harness);
    const body = { plan_id: creator.planId, quantity: 300, export_type: 'file', expiry_preset: 'no_expiry' };
    const answers = await Promise.all([bulkGenerate(harness, creator.token, body), bulkGenerate(harness, creator.token, body)]);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    const [first, second] = answers.map((answer) => answer.body.data.job_id as string);
    expect(first).not.toBe(second);

    const jobs = await Promise.all([waitForJob(harness, creator.token, first!), waitForJob(harness, creator.token, second!)]);
    expect(jobs.map((job) => [job.status, job.generated_count, job.delivered_count])).toEqual([
      ['completed', 300, 300],
      ['completed', 300, 300],
    ]);
    expect(jobs[0].batch_id).not.toBe(jobs[1].batch_id);

    const documents = fake.documentsTo(creator.chatId);
    expect(documents).toHaveLength(2);
    const perBatch = new Map(documents.map((document) => [parseCsv(document.content).rows[0]!.batch_id, parseCsv(document.content).rows]));
    expect([...perBatch.keys()].sort()).toEqual(jobs.map((job) => job.batch_id).sort());
    const allCodes = documents.flatMap((document) => parseCsv(document.content).rows.map((row) => row.code));
    expect(allCodes).toHaveLength(600);
    expect(new Set(allCodes).size).toBe(600);

    const listed = await listAllCodes(harness, creator.token, creator.planId, { limit: '500' });
    expect(listed.codes.map((code) => code.code).sort()).toEqual([...allCodes].sort());
    for (const job of jobs) {
      const ofJob = await listAllCodes(harness, creator.token, creator.planId, { job_id: job.job_id });
      expect(ofJob.codes).toHaveLength(300);
      expect(ofJob.codes.every((code) => code.job_id === job.job_id)).toBe(true);
      expect(await generatedEventsOf(harness, job.batch_id)).toHaveLength(1);
    }
  });
});

describe('Idempotency-Key over HTTP', () => {
  const jobItemsOf = async (teamId: string) =>
    (await harness.table.scanAll()).filter((item) => item.type === 'job' && item.team_id === teamId);

  test('the same key and body answer the first job and queue nothing; the same key with another body is refused', async () => {
    const creator = await createCreator(harness);
    const body = { plan_id: creator.planId, quantity: 20, export_type: 'file', expiry_preset: '1_day' };
    const headers = { 'idempotency-key': 'order-7f3a' };
    const first = await bulkGenerate(harness, creator.token, body, headers);
    expect(first.status).toBe(202);
    const jobId: string = first.body.data.job_id;
    expect((await waitForJob(harness, creator.token, jobId)).status).toBe('completed');
    await harness.idle();
    const sent = harness.deps.queue.counters.sent;

    const replay = await bulkGenerate(harness, creator.token, body, headers);
    expect(replay.status).toBe(202);
    expect(replay.body.data).toMatchObject({ job_id: jobId, enqueued_at: first.body.data.enqueued_at, plan_id: creator.planId, quantity: 20 });
    expect(harness.deps.queue.counters.sent).toBe(sent);

    const reused = await bulkGenerate(harness, creator.token, { ...body, quantity: 21 }, headers);
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(harness.deps.queue.counters.sent).toBe(sent);

    await harness.idle();
    expect(fake.documentsTo(creator.chatId)).toHaveLength(1);
    expect(await jobItemsOf(creator.teamId)).toHaveLength(1);
    expect(await codeItemsOf(harness, jobId)).toHaveLength(20);
  });

  test('two identical requests racing with one key make one job, and both are answered with it', async () => {
    const creator = await createCreator(harness);
    const body = { plan_id: creator.planId, quantity: 5, export_type: 'file', expiry_preset: 'no_expiry' };
    const headers = { 'idempotency-key': 'race-1' };
    const answers = await Promise.all([
      bulkGenerate(harness, creator.token, body, headers),
      bulkGenerate(harness, creator.token, body, headers),
      bulkGenerate(harness, creator.token, body, headers),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    expect(new Set(answers.map((answer) => answer.body.data.job_id)).size).toBe(1);
    expect((await waitForJob(harness, creator.token, answers[0]!.body.data.job_id)).status).toBe('completed');
    expect(await jobItemsOf(creator.teamId)).toHaveLength(1);
    expect(fake.documentsTo(creator.chatId)).toHaveLength(1);
  });
});

describe('list_access_codes after the codes expire', () => {
  // The status filter means the status as shown: an active code past its expiry is expired,
  // whether or not the expiry sweep has marked it yet.
  test('filters by the status it shows: expired codes under status=expired, none under status=active', async () => {
    const creator = await createCreator(harness);
    const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, quantity: 3, export_type: 'file', expiry_preset: '1_day' });
    const jobId: string = answer.body.data.job_id;
    expect((await waitForJob(harness, creator.token, jobId)).status).toBe('completed');

    harness.clock.advance(2 * 86_400_000);
    try {
      const all = await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId });
      expect(all.codes.map((code) => code.status)).toEqual(['expired', 'expired', 'expired']);
      expect((await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId, status: 'active' })).codes).toEqual([]);
      const expired = await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId, status: 'expired' });
      expect(expired.codes.map((code) => code.code).sort()).toEqual(all.codes.map((code) => code.code).sort());
    } finally {
      harness.clock.set(HARNESS_START);
    }
  });
});
