/**
 * JSON schemas used by more than one route module (so the OpenAPI document names one shape).
 */

/** The outcome of mailing several people: who got it, and each failure with its reason. */
export const mailOutcomeSchema = {
  type: 'object',
  properties: {
    sent: { type: 'array', items: { type: 'string' } },
    failed: { type: 'array', items: { type: 'object', properties: { number: { type: 'string' }, email: { type: ['string', 'null'] }, reason: { type: 'string' } } } },
  },
} as const;
