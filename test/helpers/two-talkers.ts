/**
 * Two sipp terminals talking in one meeting, as the restart tests use them (meeting-takeover,
 * orderly-restart): Ann sends a 440 Hz tone in PCMU, Bob 1000 Hz in PCMA, each for 60 s, in
 * calls held `hold` ms (then sipp hangs up with a BYE). `heardUntilTalking` listens up to three
 * times 4 s — the meeting's audio may take a moment to settle on a loaded machine — and says
 * what each heard: they talk when Ann hears Bob's 1000 Hz and Bob Ann's 440 Hz.
 */
import type { Test } from 'tap';
import { afterSilence, dominantFrequency } from './ffmpeg.ts';
import { joinMeeting, type MeetingTerminal, pcmaMedia, pcmuMedia } from './meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals, type RtpTerminal } from './rtp-terminal.ts';

export interface Heard {
  readonly heardByA: number;
  readonly heardByB: number;
}

export interface TwoTalkers {
  readonly a: RtpTerminal;
  readonly b: RtpTerminal;
  readonly legA: MeetingTerminal;
  readonly legB: MeetingTerminal;
}

/** Ann and Bob join `room` at `target` and start talking. */
export async function startTwoTalkers(t: Test, target: string, room: string, hold = 70_000): Promise<TwoTalkers> {
  const { a, b } = await openTerminals(t, 'a', 'b');
  t.teardown(() => {
    a.stop();
    b.stop();
  });
  const legA = await joinMeeting(target, { dial: room, name: 'Ann', media: pcmuMedia(a.port), hold });
  const legB = await joinMeeting(target, { dial: room, name: 'Bob', media: pcmaMedia(b.port), hold });
  const [toneA, toneB] = await Promise.all([g711Tone('mulaw', 440, 60), g711Tone('alaw', 1000, 60)]);
  void a.send(legA.answeredPort, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160 });
  void b.send(legB.answeredPort, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160 });
  return { a, b, legA, legB };
}

/** What A and B hear over the next 4 s: the dominant frequency of each after its first second of sound. */
async function listen(a: RtpTerminal, b: RtpTerminal): Promise<Heard> {
  a.received.length = 0;
  b.received.length = 0;
  await new Promise((resolve) => setTimeout(resolve, 4000));
  if (a.received.length < 50 || b.received.length < 50) return { heardByA: 0, heardByB: 0 };
  return {
    heardByA: Math.round(dominantFrequency(afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 1), 8000)),
    heardByB: Math.round(dominantFrequency(afterSilence(await decodeG711('alaw', b.payloadOf(8)), 8000, 1), 8000)),
  };
}

/** Whether Ann hears Bob's 1000 Hz and Bob hears Ann's 440 Hz. */
export const talking = (h: Heard): boolean => Math.abs(h.heardByA - 1000) < 60 && Math.abs(h.heardByB - 440) < 40;

/** Listens (4 s each) until they talk, at most three times; what they heard the last time. */
export async function heardUntilTalking({ a, b }: Pick<TwoTalkers, 'a' | 'b'>): Promise<Heard> {
  let heard = await listen(a, b);
  for (let attempt = 1; attempt < 3 && !talking(heard); attempt++) heard = await listen(a, b);
  return heard;
}
