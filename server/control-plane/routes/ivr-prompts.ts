/**
 * IVR prompts (spec "IVR"; the "replaced by audio files the admin uploads"): list the
 * prompts of each language with their text and whether a recording replaces the generated
 * speech; upload a WAV recording for one (checked, converted to the IVR's format, ≤ 60 s);
 * go back to the generated prompt. The next call hears the change. Audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../db/database.ts';
import { MAX_PROMPT_UPLOAD_BYTES, type PromptStore } from '../../ivr/prompt-store.ts';
import { auditAction } from '../route-helpers.ts';

const params = {
  type: 'object',
  required: ['language', 'name'],
  properties: { language: { type: 'string', enum: ['en', 'zh-CN'] }, name: { type: 'string', pattern: '^[a-z-]{1,32}$' } },
} as const;

export const ivrPromptRoutes: FastifyPluginAsync<{ db: Db; prompts: PromptStore }> = async (app, { db, prompts }) => {
  for (const type of ['audio/wav', 'audio/x-wav', 'audio/wave']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_PROMPT_UPLOAD_BYTES }, (_request, body, done) => done(null, body));
  }

  app.get('/ivr/prompts', { schema: { summary: 'IVR prompts per language: text, and whether an uploaded recording replaces the generated speech' } }, async () => prompts.list());

  app.put<{ Params: { language: string; name: string }; Body: Buffer }>(
    '/ivr/prompts/:language/:name',
    { bodyLimit: MAX_PROMPT_UPLOAD_BYTES, schema: { summary: 'Replace a prompt by a WAV recording (16-bit PCM, ≤ 60 s)', params, consumes: ['audio/wav'] } },
    async (request) => {
      const saved = prompts.upload(request.params.language, request.params.name, request.body);
      auditAction(db, request, 'ivr.prompt.upload', { language: saved.language, name: saved.name, seconds: saved.seconds });
      return saved;
    },
  );

  app.delete<{ Params: { language: string; name: string } }>(
    '/ivr/prompts/:language/:name',
    { schema: { summary: 'Go back to the generated prompt', params } },
    async (request, reply) => {
      prompts.revert(request.params.language, request.params.name);
      auditAction(db, request, 'ivr.prompt.revert', { language: request.params.language, name: request.params.name });
      return reply.status(204).send();
    },
  );
};
