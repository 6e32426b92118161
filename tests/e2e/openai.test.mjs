// The official OpenAI Node client against a running `cria serve` (CRIA_URL, started with --api-key
// from CRIA_API_KEY by tests/e2e/run.sh): chat and completions, whole and streamed, stop strings,
// reproducible seeds, logprobs, usage, the API key, and errors surfacing as the client's typed
// exceptions. Run with `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.CRIA_URL ?? 'http://127.0.0.1:8080'}/v1`;
const apiKey = process.env.CRIA_API_KEY ?? 'test-key';
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const model = 'kjv';

const ask = (content, extra = {}) => ({
  model,
  messages: [{ role: 'user', content }],
  max_tokens: 16,
  temperature: 0,
  ...extra,
});

test('models lists the loaded model', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.deepEqual(ids, [model]);
});

test('chat completion, whole and streamed, agree', async () => {
  const whole = await client.chat.completions.create(ask('Who made the heaven and the earth?'));
  assert.equal(whole.object, 'chat.completion');
  const text = whole.choices[0].message.content;
  assert.equal(typeof text, 'string');
  assert.ok(text.length > 0);
  assert.equal(whole.choices[0].finish_reason, 'length');
  assert.equal(whole.usage.completion_tokens, 16);
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + 16);

  const stream = await client.chat.completions.create({
    ...ask('Who made the heaven and the earth?'),
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamed = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      streamed += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(streamed, text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 16);
  assert.ok(usage.prompt_tokens_details.cached_tokens > 0, 'the same prompt again reuses its prefix');
});

test('seeds reproduce; stop strings cut and are not sent', async () => {
  const req = ask('Tell me of the children of Israel', { temperature: 1.0, seed: 4242, max_tokens: 24 });
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const text = a.choices[0].message.content;
  const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 4);
  const c = await client.chat.completions.create({ ...req, stop: [stop] });
  assert.equal(c.choices[0].message.content, text.slice(0, text.indexOf(stop)));
  assert.equal(c.choices[0].finish_reason, 'stop');
});

test('n choices and logprobs', async () => {
  const r = await client.chat.completions.create(
    ask('In the beginning', { n: 3, temperature: 0.9, seed: 7, logprobs: true, top_logprobs: 2, max_tokens: 8 }),
  );
  assert.equal(r.choices.length, 3);
  for (const c of r.choices) {
    assert.ok(Array.isArray(c.logprobs.content));
    assert.ok(c.logprobs.content.length > 0);
    for (const t of c.logprobs.content) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 2);
      assert.ok(Array.isArray(t.bytes));
    }
  }
});

test('text completions with echo and logprobs, streamed too', async () => {
  const r = await client.completions.create({ model, prompt: 'And God said', max_tokens: 8, temperature: 0, echo: true, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.startsWith('And God said'));
  assert.equal(r.choices[0].logprobs.tokens.length, 8);
  const s = await client.completions.create({ model, prompt: 'And God said', max_tokens: 8, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  assert.equal('And God said' + text, r.choices[0].text);
});

test('errors are the client\'s typed exceptions', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /wizard/.test(e.message),
  );
  const long = 'And God said, Let there be light: and there was light. '.repeat(60);
  await assert.rejects(
    client.chat.completions.create(ask(long)),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded',
  );
  await assert.rejects(
    client.chat.completions.create(ask('hi', { temperature: 5 })),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
  );
  const wrong = new OpenAI({ baseURL, apiKey: 'not-the-key', maxRetries: 0 });
  await assert.rejects(wrong.chat.completions.create(ask('hi')), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  // The server is still there.
  const ok = await client.chat.completions.create(ask('hi', { max_tokens: 2 }));
  assert.equal(ok.choices.length, 1);
});
