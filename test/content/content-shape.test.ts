/**
 * What content routing decides from, without a call: the picture size read from real
 * encoders' key frames (ffmpeg's libx264 in baseline, high and 4:4:4 profiles, interlaced, odd
 * sizes with cropping; libvpx's VP8 behind RTP payload descriptors of each shape) by
 * media/rtp/video-shape.ts, as single NAL units, STAP-A aggregates and FU-A starts; malformed
 * input giving no size; and how the call's bandwidth is shared between audio, video and
 * content (callBudget, content-policy.ts), never above the call.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { callBudget, callKbps } from '../../media/mcu/video-policy.ts';
import { contentPolicyFrom } from '../../media/meetings/content-policy.ts';
import { h264PayloadSize, h264SpsSize, readRtp, vp8PayloadSize } from '../../media/rtp/video-shape.ts';
import { CONTENT_RESOLUTIONS, VIDEO_RESOLUTIONS } from '../../server/core/call-settings.ts';
import { BANDWIDTHS } from '../../server/settings/settings-schema.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vcbox-shape-'));

function encode(name: string, size: string, args: string[]): Buffer {
  const file = path.join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=5`, '-frames:v', '2', ...args, file]);
  return readFileSync(file);
}

/** The NAL units of an Annex B stream. */
function nalUnits(stream: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 3 <= stream.length; i++) if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) starts.push(i + 3);
  return starts.map((start, k) => {
    let end = (starts[k + 1] ?? stream.length + 3) - 3;
    while (end > start && stream[end - 1] === 0) end--;
    return stream.subarray(start, end);
  });
}

t.test('H.264: the size from the sequence parameter set, however it is carried', async (t) => {
  const cases: [string, string, string[]][] = [
    ['1920x1080', 'baseline', ['-profile:v', 'baseline', '-pix_fmt', 'yuv420p']],
    ['1280x720', 'high', ['-profile:v', 'high', '-pix_fmt', 'yuv420p']],
    ['1366x768', 'high 4:4:4', ['-profile:v', 'high444', '-pix_fmt', 'yuv444p']],
    ['1024x768', 'main', ['-profile:v', 'main', '-pix_fmt', 'yuv420p']],
    ['720x480', 'interlaced', ['-flags', '+ildct+ilme', '-x264opts', 'tff=1', '-pix_fmt', 'yuv420p']],
    ['642x362', 'cropped', ['-pix_fmt', 'yuv420p']],
  ];
  for (const [size, what, args] of cases) {
    const sps = nalUnits(encode(`${what.replace(/\W/g, '')}.h264`, size, ['-c:v', 'libx264', ...args])).find((nal) => ((nal[0] ?? 0) & 0x1f) === 7);
    if (!sps) throw new Error('no SPS');
    const [width, height] = size.split('x').map(Number);
    t.same(h264PayloadSize(sps), { width, height }, `${what} ${size}: a single NAL unit`);
    const stap = Buffer.concat([Buffer.from([24, 0, 2, 9, 0x10, sps.length >> 8, sps.length & 0xff]), sps]);
    t.same(h264PayloadSize(stap), { width, height }, `${what} ${size}: in a STAP-A after another unit`);
    const fuA = Buffer.concat([Buffer.from([(sps[0] ?? 0) & 0xe0 | 28, 0x80 | 7]), sps.subarray(1)]);
    t.same(h264PayloadSize(fuA), { width, height }, `${what} ${size}: starting an FU-A`);
  }
  t.equal(h264SpsSize(Buffer.from([0x67, 0xff, 0xff, 0xff, 0xff])), undefined, 'Exp-Golomb codes that never end: no size');
  t.equal(h264SpsSize(Buffer.from([0x67, 0x42, 0, 0x1f, 0, 0, 0, 0, 0, 0])), undefined, 'zeros: no size');
  t.equal(h264PayloadSize(Buffer.from([0x65, 1, 2, 3])), undefined, 'a slice is no parameter set');
  t.equal(h264PayloadSize(Buffer.from([24, 0xff, 0xff, 0x67])), undefined, 'a STAP-A whose length runs past the packet');
  t.equal(h264PayloadSize(Buffer.alloc(0)), undefined, 'empty');
});

t.test('VP8: the size from a key frame behind each payload descriptor shape', async (t) => {
  for (const size of ['1920x1080', '1280x720', '1024x768', '640x360']) {
    const ivf = encode(`${size}.ivf`, size, ['-c:v', 'libvpx']);
    const frame = ivf.subarray(32 + 12, 32 + 12 + ivf.readUInt32LE(32));
    const [width, height] = size.split('x').map(Number);
    t.same(vp8PayloadSize(Buffer.concat([Buffer.from([0x10]), frame])), { width, height }, `${size}: the short descriptor`);
    t.same(vp8PayloadSize(Buffer.concat([Buffer.from([0x90, 0x80, 0x81, 0x23]), frame])), { width, height }, `${size}: a 15-bit picture ID`);
    t.same(vp8PayloadSize(Buffer.concat([Buffer.from([0x90, 0xe0, 0x12, 0x05, 0x40]), frame])), { width, height }, `${size}: picture ID, TL0PICIDX and TID`);
    t.equal(vp8PayloadSize(Buffer.concat([Buffer.from([0x00]), frame])), undefined, `${size}: not the start of a partition: no size`);
  }
  t.equal(vp8PayloadSize(Buffer.from([0x10, 0x01, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x07, 0x38, 0x04])), undefined, 'an inter frame: no size');
  t.equal(vp8PayloadSize(Buffer.from([0x10, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x80, 0x07, 0x38, 0x04])), undefined, 'no start code: no size');
  t.equal(vp8PayloadSize(Buffer.from([0x90])), undefined, 'cut short');
});

t.test('RTP: the payload behind CSRCs, a header extension and padding', async (t) => {
  const header = Buffer.from([0xb1, 0x6d, 0, 1, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 8, 0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
  const rtp = readRtp(Buffer.concat([header, Buffer.from([0x67, 0x42, 0, 0, 2])]));
  t.match(rtp, { payloadType: 109, marker: false, timestamp: 9 }, 'payload type, marker and timestamp');
  t.same([...(rtp?.payload ?? [])], [0x67, 0x42, 0], 'the payload, its two bytes of padding off');
  t.equal(readRtp(Buffer.from([0x40, 0, 0, 0])), undefined, 'not RTP version 2');
  t.equal(readRtp(Buffer.concat([Buffer.from([0x90]), Buffer.alloc(11), Buffer.from([0xbe, 0xde, 0xff, 0xff])])), undefined, 'an extension longer than the packet');
});

t.test("the call's bandwidth holds audio, video and content", async (t) => {
  for (const bandwidth of BANDWIDTHS) {
    for (const video of VIDEO_RESOLUTIONS) {
      for (const content of CONTENT_RESOLUTIONS) {
        const settings = { 'call.maxBandwidth': bandwidth, 'call.maxVideoResolution': video, 'call.maxContentResolution': content };
        const { videoKbps, contentKbps } = callBudget(settings);
        if (bandwidth !== '128k') t.ok(64 + videoKbps + contentKbps <= callKbps(bandwidth), `${bandwidth}, ${video}, ${content}: 64 + ${videoKbps} + ${contentKbps} within the call`);
        t.equal(contentPolicyFrom(settings).kbps, contentKbps, 'the content policy takes the content share');
      }
    }
  }
  t.same(callBudget({ 'call.maxBandwidth': '2M', 'call.maxVideoResolution': '720P/30', 'call.maxContentResolution': '1080P/5' }), { videoKbps: 1000, contentKbps: 936 }, 'the defaults: 720p video keeps its guide, content 936');
  t.same(callBudget({ 'call.maxBandwidth': '4M', 'call.maxVideoResolution': '1080P/30', 'call.maxContentResolution': '1080P/30' }), { videoKbps: 2000, contentKbps: 1936 }, '4M with 1080p30 video and content: the spec\'s "+content ≈ 4M"');
  t.same(contentPolicyFrom({ 'call.maxBandwidth': '2M', 'call.maxVideoResolution': '720P/30', 'call.maxContentResolution': '720P/15' }), { width: 1280, height: 720, fps: 15, kbps: 750, keyFrameSeconds: 1 }, '720P/15: 1280×720 at 15 fps, 750 kbit/s');
});
