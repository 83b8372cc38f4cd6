// dockerode 5 against berthd (run by tests/e2e/clients_test.cc with
// DOCKER_HOST=unix://...): attach and exec start without an Upgrade header
// (berth answers 200 and streams on the same connection, as Docker does),
// logs, inspect, list filters. Exits non-zero naming the failed step.
const Docker = require('dockerode');

const socketPath = process.env.DOCKER_HOST.replace(/^unix:\/\//, '');
const docker = new Docker({ socketPath });
let step = 'start';
function check(cond, what) {
  if (!cond) { console.error(`dockerode: ${step}: ${what}`); process.exit(1); }
}
function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
const timer = setTimeout(() => { console.error(`dockerode: ${step}: timed out`); process.exit(2); }, 60000);

(async () => {
  step = 'ping';
  check((await docker.ping()).toString() === 'OK', 'ping');

  step = 'create, attach (no Upgrade), start, wait';
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo hello; echo oops >&2'],
                                          AttachStdout: true, AttachStderr: true });
  const stream = await c.attach({ stream: true, stdout: true, stderr: true });
  const got = collect(stream);
  await c.start();
  const raw = await got;
  // Multiplexed frames: 8-byte headers, stream 1 "hello\n", stream 2 "oops\n".
  check(raw.length === 8 + 6 + 8 + 5 || raw.length === 27, `attach bytes ${raw.length}`);
  check(raw.includes(Buffer.from('hello\n')) && raw.includes(Buffer.from('oops\n')), 'attach output');
  check((await c.wait()).StatusCode === 0, 'wait');

  step = 'logs';
  const logs = await c.logs({ stdout: true, stderr: true });
  check(logs.includes(Buffer.from('hello')), 'logs');

  step = 'exec start (no Upgrade)';
  const r = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '100'], Labels: { app: 'node' } });
  await r.start();
  const ex = await r.exec({ Cmd: ['sh', '-c', 'echo from-exec'], AttachStdout: true, AttachStderr: true });
  const es = await ex.start({ hijack: false });
  const eout = await collect(es);
  check(eout.includes(Buffer.from('from-exec')), `exec output ${eout}`);
  check((await ex.inspect()).ExitCode === 0, 'exec exit code');

  step = 'exec with stdin (hijack)';
  const ex2 = await r.exec({ Cmd: ['wc', '-c'], AttachStdin: true, AttachStdout: true });
  const duplex = await ex2.start({ hijack: true, stdin: true });
  const out2 = collect(duplex);
  duplex.end(Buffer.alloc(12345, 0x10));  // bytes equal to ctrl-p: data without a tty
  const text = (await out2).toString();
  check(text.includes('12345'), `stdin through exec: ${JSON.stringify(text)}`);

  step = 'list filters';
  const list = await docker.listContainers({ all: true, filters: { label: ['app=node'] } });
  check(list.length === 1 && list[0].Id === r.id, 'label filter');

  step = 'cleanup';
  await r.remove({ force: true });
  await c.remove();
  clearTimeout(timer);
  console.log('dockerode: all checks passed');
})().catch((e) => { console.error(`dockerode: ${step}: ${e.stack || e}`); process.exit(1); });
