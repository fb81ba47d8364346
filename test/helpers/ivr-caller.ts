/**
 * An IVR caller for the tests: sipp places the call, the test's RTP terminal (the SDP's port)
 * keys RFC 4733 digits, and the prompts the box streams back to it are recognised frame by
 * frame against the built prompt files.
 */
import { AudioEncoder } from '../../media/audio-mixer/audio-codec.ts';
import { promptSamples } from '../../media/ivr/ivr-session.ts';
import type { RtpTerminal } from './rtp-terminal.ts';

/**
 * Keys `digits` as RFC 4733 events from the caller's own RTP port (the SDP's address and port:
 * the only source whose keys the IVR accepts) after `pauseMs`, so that the welcome has started.
 */
export async function keyDigits(caller: RtpTerminal, answeredPort: number, digits: string, pauseMs: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
  await caller.sendDtmf(answeredPort, digits);
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
