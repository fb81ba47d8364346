/**
 * Finding 12 (IVR part), from the network's side: RFC 4733 key presses sent to an IVR call's
 * media port from anywhere but the caller's SDP address and port — another port of the
 * caller's address, or the caller's port on another address — are ignored; the caller's own
 * keys still work. The proof is in what the IVR does next: an injected meeting ID would have
 * taken the call to the PIN prompt of the injected meeting, so the caller's own meeting ID
 * (a meeting without PIN) would have been read as a wrong PIN instead of moving it there.
 */
import t from 'tap';
import { VmrStore } from '../../server/rooms/vmr-store.ts';
import { promptStreamed } from '../helpers/ivr-caller.ts';
import { joinMeeting, pcmuMedia } from '../helpers/meeting-terminal.ts';
import { openTerminals, RtpTerminal } from '../helpers/rtp-terminal.ts';
import { hangUpEveryone, startSipBox } from '../helpers/sip-box.ts';
import { waitFor } from '../helpers/meeting-terminal.ts';

const box = await startSipBox({ media: {} });
t.teardown(() => box.close());
const withPin = new VmrStore(box.db).create({ name: 'PIN room', number: '880010', hostPin: '1234', guestPin: '4321', capacity: 10 });
const open = new VmrStore(box.db).create({ name: 'Open room', number: '880020', hostPin: '5678', guestPin: '', capacity: 10 });
const target = `127.0.0.1:${box.port}`;
const ACCESS = box.settings.get('call.ivrAccessNumber');

/** Whether the caller received the first frames of `prompt` (PCMU, as the IVR encodes it). */
const heard = (terminal: RtpTerminal, prompt: string): boolean => promptStreamed(terminal, 'en', prompt);

t.test('DTMF injected from another port or address is ignored; the caller\'s own keys work', async (t) => {
  box.settings.update({ 'call.ivrLanguage': 'en' }, { actor: 'test' });
  const { caller, otherPort } = await openTerminals(t, 'caller', 'otherPort');
  // The caller's port number, on another loopback address.
  const otherAddress = new RtpTerminal();
  t.teardown(() => otherAddress.close());
  await new Promise<void>((resolve) => otherAddress.socket.bind(caller.port, '127.0.0.7', resolve));

  const call = await joinMeeting(target, { dial: ACCESS, name: 'Dialler', media: pcmuMedia(caller.port), hold: 3000, scenario: 'meeting-join-heal.xml' });
  await waitFor('the welcome prompt', 8000, () => heard(caller, 'welcome') || undefined);
  await otherPort.sendDtmf(call.answeredPort, `${withPin.number}#`);
  await otherAddress.sendDtmf(call.answeredPort, `${withPin.number}#`);
  await caller.sendDtmf(call.answeredPort, `${open.number}#`);
  const moved = await call.movedPort(20_000);
  t.ok(moved > 0 && moved !== call.answeredPort, `the caller's own meeting ID moved it into meeting ${open.number} (port ${moved})`);
  // (The port file is written when the re-INVITE arrives; the box lists the caller once its 200 is answered.)
  const inMeeting = () => [...(box.app.live.get(open.number)?.participants.values() ?? [])].map((p) => p.displayName);
  await waitFor('the caller listed in the meeting', 10_000, () => inMeeting().length > 0 || undefined);
  t.same(inMeeting(), ['Dialler'], `in ${open.number}`);
  t.notOk(heard(caller, 'enter-pin'), 'never asked for the PIN of the injected meeting');
  t.notOk(heard(caller, 'invalid-pin'));
  t.notOk(box.app.live.get(withPin.number), 'the injected meeting was never entered');
  hangUpEveryone(box, open.number);
  await call.result;
});
