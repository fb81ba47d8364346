/**
 * An IVR caller for the tests: sipp keys digits by playing its own RFC 4733 pcap files
 * (Debian's sip-tester ships one per key), and the prompts the box streams back to the test's
 * RTP socket are recognised frame by frame against the built prompt files.
 */
import { AudioEncoder } from '../../media/audio-mixer/audio-codec.ts';
import { promptSamples } from '../../media/ivr/ivr-session.ts';
import type { RtpTerminal } from './rtp-terminal.ts';

const PCAP_NAMES: Record<string, string> = { '#': 'pound', '*': 'star' };

/**
 * sipp scenario steps (for ivr-keys.xml / ivr-keys-hung-up.xml's {{dtmf}}) that wait
 * `pauseMs`, then key `digits` (0-9, #, *) one pcap file each, 250 ms apart.
 */
export function pcapKeys(digits: string, pauseMs: number): string {
  const steps = [...digits].map(
    (d) => `  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_${PCAP_NAMES[d] ?? d}.pcap"/></action></nop>\n  <pause milliseconds="250"/>`,
  );
  return `  <pause milliseconds="${pauseMs}"/>\n${steps.join('\n')}`;
}

/** The PCMU frames the IVR sends for a prompt (the same encoder, 20 ms frames). */
export function expectedFrames(language: string, prompt: string, count: number): string[] {
  const samples = promptSamples(language, prompt);
  const encoder = new AudioEncoder('pcmu');
  const out = new Uint8Array(200);
  const frames: string[] = [];
  for (let i = 0; i < count; i++) {
    const frame = new Int16Array(320);
    frame.set(samples.subarray(i * 320, (i + 1) * 320));
    const n = encoder.encode(frame, out);
    frames.push(Buffer.from(out.subarray(0, n)).toString('hex'));
  }
  return frames;
}

/** Whether the terminal received the prompt's first (non-silent) frames: the box played it. */
export function promptStreamed(terminal: RtpTerminal, language: string, prompt: string): boolean {
  const received = new Set(terminal.received.filter((p) => p.payloadType === 0).map((p) => p.payload.toString('hex')));
  const wanted = expectedFrames(language, prompt, 25)
    .filter((f) => !/^(ff)+$/.test(f))
    .slice(0, 10);
  return wanted.length > 0 && wanted.every((frame) => received.has(frame));
}
