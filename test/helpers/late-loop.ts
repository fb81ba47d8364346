/**
 * A signaling service's process saturated, for the loop-lag bound's tests: three turns of the
 * event loop each held 120 ms (what a backlog of messages does), and messages sent meanwhile by
 * another thread wait in the socket buffer, read when the loop has been late at every tick.
 * Returns what came back to that thread's socket within 1.5 s.
 */
import { Worker } from 'node:worker_threads';

export async function readWhileLate(port: number, messages: (string | Buffer)[]): Promise<string[]> {
  const sender = new Worker(
    `const dgram = require('node:dgram');
     const { parentPort, workerData } = require('node:worker_threads');
     const socket = dgram.createSocket('udp4');
     const replies = [];
     socket.on('message', (m) => replies.push(m.toString('latin1')));
     socket.bind(0, '127.0.0.1', () => parentPort.postMessage('ready'));
     parentPort.on('message', () => {
       for (const m of workerData.messages) socket.send(m, workerData.port, '127.0.0.1');
       setTimeout(() => { socket.close(); parentPort.postMessage(replies); }, 1500);
     });`,
    { eval: true, workerData: { port, messages } },
  );
  await new Promise((resolve) => sender.once('message', resolve));
  const replies = new Promise<string[]>((resolve) => sender.once('message', resolve));
  const hold = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // the loop is busy
    }
  };
  for (let turn = 0; turn < 3; turn++) {
    await new Promise((r) => setImmediate(r));
    if (turn === 2) sender.postMessage('go');
    hold(120);
  }
  const answers = await replies;
  await sender.terminate();
  return answers;
}

