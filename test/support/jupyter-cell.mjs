// Runs one notebook cell on a Jupyter kernel over its websocket channels, as a notebook
// front end does, and prints what the cell printed. Run with `node --experimental-websocket`
// (Node 20 has WebSocket only behind that flag).
//   node --experimental-websocket jupyter-cell.mjs WS_URL TOKEN CODE
const [url, token, code] = process.argv.slice(2);
const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
const msgId = `cell-${Date.now()}`;
let out = '';
const timer = setTimeout(() => {
  console.error('timed out; output so far:', out);
  process.exit(3);
}, 240_000);
ws.addEventListener('open', () => {
  ws.send(
    JSON.stringify({
      header: { msg_id: msgId, username: 'test', session: `s-${msgId}`, msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
      parent_header: {},
      metadata: {},
      content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      channel: 'shell',
      buffers: [],
    }),
  );
});
ws.addEventListener('message', (ev) => {
  const m = JSON.parse(typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString());
  if (m.parent_header?.msg_id !== msgId) return;
  if (m.msg_type === 'stream') out += m.content.text;
  if (m.msg_type === 'execute_result') out += m.content.data['text/plain'] + '\n';
  if (m.msg_type === 'error') out += `ERROR ${m.content.ename}: ${m.content.evalue}\n`;
  if (m.msg_type === 'execute_reply') {
    clearTimeout(timer);
    process.stdout.write(out);
    ws.close();
    process.exit(m.content.status === 'ok' ? 0 : 1);
  }
});
ws.addEventListener('error', (e) => {
  console.error('websocket error', e.message ?? e);
  process.exit(2);
});
