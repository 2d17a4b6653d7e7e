// node bench/onnxruntime_cpu.js MODEL.onnx: ONNX Runtime (npm onnxruntime-node) CPU latency of a ViT, batch 1 and 32,
// 2 intra-op threads, graph optimisation "all"; medians of timed runs after warm-up.
const ort = require('onnxruntime-node');

async function time(session, batch, runs) {
  const input = new ort.Tensor('float32', new Float32Array(batch * 3 * 224 * 224).map(() => Math.random() * 2 - 1),
                               [batch, 3, 224, 224]);
  for (let i = 0; i < 3; ++i) await session.run({input});
  const ms = [];
  for (let i = 0; i < runs; ++i) {
    const start = process.hrtime.bigint();
    await session.run({input});
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

(async () => {
  const session = await ort.InferenceSession.create(process.argv[2],
      {intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const b1 = await time(session, 1, 30);
  const b32 = await time(session, 32, 5);
  console.log(JSON.stringify({engine: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
                              batch1_ms: b1, batch32_ms: b32, batch32_images_per_second: 32000 / b32}));
})();
