// Structured output through the official OpenAI Node client against `cria serve` on the bundled KJV model
// (CRIA_URL, started by tests/e2e/run.sh with 1024 tokens per sequence), every result checked by an
// independent validator (ajv):
// - response_format json_schema: 20 schemas of increasing difficulty (scalars, bounded strings and arrays,
//   nested objects, optional and nullable fields, enums and consts, anyOf/oneOf, $ref/$defs, non-ASCII
//   text), each bounded so that a whole document fits the token budget, sampled at temperature 1.0 with
//   two seeds: every reply parses as JSON and validates against its schema;
// - response_format json_object: a JSON object;
// - tools with tool_choice "required": tool_calls whose arguments validate against the function's
//   parameters, and the same call reassembled from the streamed deltas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Ajv from 'ajv';

const baseURL = `${process.env.CRIA_URL ?? 'http://127.0.0.1:8080'}/v1`;
const client = new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
const ajv = new Ajv({ strict: false, allErrors: true });
const model = 'kjv';

const name = { type: 'string', maxLength: 12 };
const digit = { type: 'integer', minimum: 0, maximum: 9 };
const schemas = [
  { type: 'boolean' },
  { type: 'integer', minimum: 1, maximum: 150 },
  { enum: ['light', 'darkness', 'waters'] },
  { type: 'string', maxLength: 12 },
  { type: 'string', minLength: 3, maxLength: 8 },
  { type: 'array', items: { type: 'integer', minimum: 0, maximum: 99 }, maxItems: 5 },
  { type: 'object', properties: { name }, required: ['name'] },
  { type: 'object', properties: { name, age: { type: 'integer', minimum: 0, maximum: 969 } }, required: ['name', 'age'] },
  { type: 'object', properties: { a: name, b: { type: 'boolean' }, c: digit } },
  { type: 'object', properties: { kind: { const: 'verse' }, book: { enum: ['Genesis', 'Exodus', 'Psalms'] } },
    required: ['kind', 'book'] },
  { type: 'array', maxItems: 3,
    items: { type: 'object', properties: { word: { type: 'string', maxLength: 10 }, count: digit }, required: ['word', 'count'] } },
  { type: 'object', required: ['person', 'age'],
    properties: { person: { type: 'object', properties: { name, tribe: { enum: ['Judah', 'Levi', 'Dan'] } }, required: ['name', 'tribe'] },
                  age: { type: 'integer', minimum: 1, maximum: 120 } } },
  { type: 'object', properties: { note: { type: ['string', 'null'], maxLength: 10 },
                                  n: { type: 'integer', nullable: true, minimum: 0, maximum: 5 } }, required: ['note', 'n'] },
  { anyOf: [digit, { type: 'string', maxLength: 6 }, { type: 'boolean' }] },
  { oneOf: [{ type: 'object', properties: { circle: digit }, required: ['circle'], additionalProperties: false },
            { type: 'object', properties: { square: { type: 'string', maxLength: 4 } }, required: ['square'], additionalProperties: false }] },
  { $defs: { name }, type: 'object', properties: { first: { $ref: '#/$defs/name' }, last: { $ref: '#/$defs/name' } },
    required: ['first', 'last'] },
  { type: 'object', properties: { greeting: { enum: ['שָׁלוֹם', 'ἀγάπη', 'Élohim', '平安'] },
                                  word: { type: 'string', minLength: 1, maxLength: 6 } }, required: ['greeting', 'word'] },
  { type: 'object', properties: { tags: { type: 'array', items: { enum: ['law', 'prophets', 'psalms'] }, minItems: 1, maxItems: 3 } },
    required: ['tags'], additionalProperties: false },
  { $defs: { leaf: { type: 'object', properties: { v: digit }, required: ['v'] },
             node: { type: 'object', properties: { v: digit, kids: { type: 'array', items: { $ref: '#/$defs/leaf' }, maxItems: 2 } },
                     required: ['v'] } },
    type: 'object', properties: { root: { $ref: '#/$defs/node' }, rest: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } },
    required: ['root'] },
  { type: 'object', additionalProperties: false, required: ['name', 'age', 'tags', 'home', 'role', 'alive'],
    properties: { name: { type: 'string', maxLength: 20 }, age: { type: 'integer', minimum: 0, maximum: 999 },
                  tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
                  home: { type: 'object', properties: { city: name, land: { enum: ['Canaan', 'Egypt', 'Ur'] } }, required: ['city'] },
                  role: { enum: ['patriarch', 'prophet', 'king'] }, alive: { type: 'boolean' },
                  kin: { anyOf: [{ type: 'null' }, { type: 'array', items: name, maxItems: 2 }] } } },
];

test('20 schemas at temperature 1.0: every reply validates', async () => {
  assert.equal(schemas.length, 20);
  for (const [i, schema] of schemas.entries()) {
    const validate = ajv.compile(schema);
    await Promise.all([1, 2].map(async (seed) => {
      const r = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'And God said, Let there be light' }],
        response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema, strict: true } },
        temperature: 1.0,
        seed,
        max_tokens: 600,
      });
      const c = r.choices[0];
      const where = `schema ${i + 1} seed ${seed}: ${JSON.stringify(c.message.content)}`;
      assert.equal(c.finish_reason, 'stop', where);
      const doc = JSON.parse(c.message.content);
      assert.ok(validate(doc), `${where}: ${ajv.errorsText(validate.errors)}`);
    }));
  }
});

test('json_object gives a JSON object', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Who begat Isaac?' }],
    response_format: { type: 'json_object' },
    temperature: 1.0,
    seed: 3,
    max_tokens: 600,
  });
  // Not bounded by a schema: a reply cut at max_tokens is not a document, so only a finished one is checked.
  if (r.choices[0].finish_reason === 'stop') {
    const doc = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof doc, 'object');
    assert.ok(doc !== null && !Array.isArray(doc));
  } else {
    assert.equal(r.choices[0].message.content[0], '{');
  }
});

const tools = [
  { type: 'function', function: { name: 'find_verse', description: 'Find a verse',
    parameters: { type: 'object', properties: { book: { enum: ['Genesis', 'Exodus'] }, chapter: { type: 'integer', minimum: 1, maximum: 50 },
                                                 words: { type: 'string', maxLength: 16 } },
                  required: ['book', 'chapter'] } } },
  { type: 'function', function: { name: 'count_words', parameters: { type: 'object', properties: { text: { type: 'string', maxLength: 12 } },
                                                                      required: ['text'] } } },
];
const validators = Object.fromEntries(tools.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));

test('tools with tool_choice required: calls validate, and streamed calls reassemble', async () => {
  for (const seed of [1, 2, 3]) {
    const request = {
      model,
      messages: [{ role: 'user', content: 'Where is it written, Let there be light?' }],
      tools,
      tool_choice: 'required',
      temperature: 1.0,
      seed,
      max_tokens: 300,
    };
    const whole = await client.chat.completions.create(request);
    const c = whole.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.equal(c.message.tool_calls.length, 1);
    const call = c.message.tool_calls[0];
    assert.equal(call.type, 'function');
    const validate = validators[call.function.name];
    assert.ok(validate, `unknown function ${call.function.name}`);
    const args = JSON.parse(call.function.arguments);
    assert.ok(validate(args), ajv.errorsText(validate.errors));

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      for (const ch of chunk.choices) {
        for (const d of ch.delta?.tool_calls ?? []) {
          calls[d.index] ??= { name: '', arguments: '' };
          calls[d.index].name += d.function?.name ?? '';
          calls[d.index].arguments += d.function?.arguments ?? '';
        }
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, call.function.name);
    assert.deepEqual(JSON.parse(calls[0].arguments), args);
  }
});

test('a named function is the one called', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Count the words of Genesis 1:1' }],
    tools,
    tool_choice: { type: 'function', function: { name: 'count_words' } },
    temperature: 1.0,
    seed: 9,
    max_tokens: 200,
  });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'count_words');
  assert.ok(validators.count_words(JSON.parse(call.function.arguments)));
});
