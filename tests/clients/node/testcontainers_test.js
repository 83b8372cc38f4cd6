// testcontainers 11 against berthd (run by tests/e2e/clients_test.cc with
// DOCKER_HOST and TESTCONTAINERS_RYUK_DISABLED=true: the reaper image is
// not in a test daemon without a registry; run in berthd's network
// namespace, where its published ports are). A container started and
// stopped, its exec and logs; a web server's exposed port, mapped and
// fetched.
const { GenericContainer, Wait } = require('testcontainers');

let step = 'start';
function check(cond, what) {
  if (!cond) { console.error(`testcontainers: ${step}: ${what}`); process.exit(1); }
}
const timer = setTimeout(() => { console.error(`testcontainers: ${step}: timed out`); process.exit(2); }, 90000);

(async () => {
  step = 'start a container';
  const container = await new GenericContainer('busybox')
    .withCommand(['sh', '-c', 'echo ready; exec sleep 1000'])
    .withWaitStrategy(Wait.forLogMessage('ready'))
    .start();
  step = 'exec';
  const { output, exitCode } = await container.exec(['sh', '-c', 'echo exec-out']);
  check(exitCode === 0 && output.includes('exec-out'), `exec ${exitCode} ${output}`);
  step = 'logs';
  const logs = await container.logs();
  const text = await new Promise((resolve) => {
    let all = '';
    logs.on('data', (d) => { all += d; if (all.includes('ready')) resolve(all); });
  });
  check(text.includes('ready'), 'logs');
  logs.destroy();
  step = 'stop';
  await container.stop({ timeout: 1 });
  step = 'exposed port';
  const web = await new GenericContainer('busybox')
    .withCommand(['sh', '-c', 'mkdir -p /www && echo tc-served > /www/index.html && exec httpd -f -p 80 -h /www'])
    .withExposedPorts(80)
    .start();
  const port = web.getMappedPort(80);
  check(port > 0, `mapped port ${port}`);
  const body = await fetch(`http://${web.getHost()}:${port}/`).then((r) => r.text());
  check(body.includes('tc-served'), `fetched ${body}`);
  await web.stop({ timeout: 1 });
  clearTimeout(timer);
  console.log('testcontainers: all checks passed');
})().catch((e) => { console.error(`testcontainers: ${step}: ${e.stack || e}`); process.exit(1); });
