import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { badRequest, HttpError, unavailable } from '../../src/errors.ts'
import { refusalReason } from '../../src/measures/refusals.ts'
import { QueueFull } from '../../src/measures/writer.ts'

const test = suite('refusal reasons')

test('every 4xx message of the write routes has a reason of its own, never its text', () => {
  const cases: [string, string][] = [
    ['The measure cannot be empty', 'empty'],
    ['The measures cannot be empty', 'empty'],
    ['A measure name must be given', 'measure_name'],
    ['No measure definition found for: anything a client sends', 'unknown_measure'],
    ['A value must be given', 'value'],
    ['value type is incorrect, it must be a number', 'value'],
    ['startDate must be given', 'start_date'],
    ['startDate type is incorrect, it must be a date', 'start_date'],
    ['groups format is incorrect', 'groups'],
    ['Group1 key does not match measure definition: None', 'groups'],
    ['Group2 key does not match measure definition: os', 'groups'],
    ['Group3 key does not match measure definition: x', 'groups'],
    ['createdBy type is incorrect, it must be a string of at most 200 characters', 'created_by'],
    ['contributor type is incorrect, it must be a string of 1 to 200 characters', 'contributor'],
    ['Idempotency-Key must be 1 to 255 visible ASCII characters', 'idempotency_key'],
    ['The body must be a JSON array of measures', 'malformed'],
    ['Malformed JSON on line 3', 'malformed'],
  ]
  for (const [message, reason] of cases) assert.is(refusalReason(badRequest(message)), reason, message)
  assert.is(refusalReason(badRequest('a message nobody listed')), 'other')
})

test('errors of the body parser, the write path and the rest', () => {
  const parserError = (status: number, error = new Error('parse')) => Object.assign(error, { status, expose: true })
  assert.is(refusalReason(parserError(400, new SyntaxError('Unexpected token'))), 'malformed')
  assert.is(refusalReason(Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR' })), 'malformed')
  assert.is(refusalReason(parserError(413)), 'too_large')
  assert.is(refusalReason(new HttpError(413, 'Too many measures in one request: at most 10000')), 'too_large')
  assert.is(refusalReason(new HttpError(415, 'Content-Type must be application/json')), 'media_type')
  assert.is(refusalReason(new QueueFull()), 'backlog_full')
  assert.is(refusalReason(unavailable('The measures could not be stored, retry later')), 'unavailable')
  assert.is(refusalReason(unavailable('The service is shutting down')), 'unavailable')
  assert.is(refusalReason(new Error('a bug')), 'internal')
})

test.run()
