// The dashboard's Web Worker: the same wasm module as the page, started here so heavy computations
// (every clip method quantizing the whole tensor) never hold up the page. Messages that arrive while the
// module loads are kept and handled once it runs (frontend/src/worker.rs).
import init, { worker_main } from '/pkg/lowbit_frontend.js';
const early = [];
self.onmessage = (e) => early.push(e);
await init({ module_or_path: '/pkg/lowbit_frontend_bg.wasm' });
worker_main();
for (const e of early) self.onmessage(e);
