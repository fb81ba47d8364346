/**
 * Two terminals talking in a meeting, for the fault tests: each a hand-written SIP dialog
 * (./dialog-terminal.ts) with its RTP from the test's own socket (./rtp-terminal.ts), A sending
 * a 440 Hz PCMU tone and B a 1 000 Hz PCMA one, both until the test ends, each to the port
 * the box answered last (a heal's re-INVITE moves it). `hearEachOther` listens for 4 s.
 */
import type { Test } from 'tap';
import { DialogTerminal } from './dialog-terminal.ts';
import { afterSilence, dominantFrequency } from './ffmpeg.ts';
import { pcmaMedia, pcmuMedia } from './meeting-terminal.ts';
import { decodeG711, g711Tone, openTerminals, type RtpTerminal } from './rtp-terminal.ts';

export interface TalkingTerminals {
  readonly a: RtpTerminal;
  readonly b: RtpTerminal;
  readonly ta: DialogTerminal;
  readonly tb: DialogTerminal;
}

/** A and B (named `Ann<tag>`, `Bob<tag>`) join meeting `dial` at the box's UDP port `sipPort` and talk. */
export async function twoTalking(t: Test, sipPort: number, dial: string, tag: string): Promise<TalkingTerminals> {
  const { a, b } = await openTerminals(t, 'a', 'b');
  const ta = await DialogTerminal.open(`Ann${tag}`);
  const tb = await DialogTerminal.open(`Bob${tag}`);
  t.teardown(() => {
    a.stop();
    b.stop();
    ta.close();
    tb.close();
  });
  const [toneA, toneB] = await Promise.all([g711Tone('mulaw', 440, 100), g711Tone('alaw', 1000, 100)]);
  await ta.join(sipPort, dial, pcmuMedia(a.port));
  await tb.join(sipPort, dial, pcmaMedia(b.port));
  void a.send(0, toneA, { payloadType: 0, frameBytes: 160, timestampStep: 160, to: () => ta.answeredPort });
  void b.send(0, toneB, { payloadType: 8, frameBytes: 160, timestampStep: 160, to: () => tb.answeredPort });
  return { a, b, ta, tb };
}

/** What each hears over the next 4 s (dominant Hz in the first second of sound; 0 with fewer than 50 packets each). */
export async function hearEachOther({ a, b }: TalkingTerminals): Promise<{ heardByA: number; heardByB: number; packets: number }> {
  a.received.length = 0;
  b.received.length = 0;
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const packets = Math.min(a.received.length, b.received.length);
  if (packets < 50) return { heardByA: 0, heardByB: 0, packets };
  const heardByA = dominantFrequency(afterSilence(await decodeG711('mulaw', a.payloadOf(0)), 8000, 1), 8000);
  const heardByB = dominantFrequency(afterSilence(await decodeG711('alaw', b.payloadOf(8)), 8000, 1), 8000);
  return { heardByA: Math.round(heardByA), heardByB: Math.round(heardByB), packets };
}

/** A hears B's 1 000 Hz and B hears A's 440 Hz. */
export const talking = (heard: { heardByA: number; heardByB: number }): boolean => Math.abs(heard.heardByA - 1000) < 60 && Math.abs(heard.heardByB - 440) < 40;
