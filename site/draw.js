// The drawing page: notebook 08's widget without a kernel. The drawing is made an MNIST
// field as mnist_lib/draw.py's to_mnist does (fit the ink in 20x20, centre of mass at the
// centre), then both ONNX models (notebook 09) run it in onnxruntime-web; their graphs
// hold the 28->32 step and the normalization. Test hooks: window.mnistField, mnistPredict.
import * as ort from "./ort/ort.wasm.min.mjs";

const CANVAS = 280, PEN = 22, BOX = 20, FIELD = 28, CENTRE = 14, INK_THRESHOLD = 0.1, STEP = 2;
const NAMES = { lenet5: "LeNet-5", mlp: "MLP" };
const f32 = Math.fround;

ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain server lacks
ort.env.wasm.wasmPaths = new URL("ort/", import.meta.url).href;

// Python's round(): a half goes to the even neighbour.
function roundEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// One pass of PyTorch's antialiased bilinear resize (float32), as in UpSampleKernel.cpp.
function resize1d(src, n, stride, count, inSize, outSize) {
  const scale = f32(inSize / outSize), support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1, maxSize = Math.ceil(support) * 2 + 1;
  const out = new Float32Array(count * outSize);
  for (let i = 0; i < outSize; i++) {
    const centre = f32(scale * (i + 0.5));
    const xmin = Math.max(Math.trunc(f32(centre - support) + 0.5), 0);
    const xsize = Math.min(Math.min(Math.trunc(f32(centre + support) + 0.5), inSize) - xmin, maxSize);
    const w = [];
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      const x = Math.abs(f32((f32(j + xmin - centre) + 0.5) * invscale));
      w.push(x < 1 ? f32(1 - x) : 0);
      total = f32(total + w[j]);
    }
    for (let j = 0; j < xsize && total !== 0; j++) w[j] = f32(w[j] / total);
    for (let k = 0; k < count; k++) {
      let t = 0;
      for (let j = 0; j < xsize; j++) t = f32(t + f32(src[k * n + (xmin + j) * stride] * w[j]));
      out[k * outSize + i] = t;
    }
  }
  return out;
}

// to_mnist: ink [h * w] (bright on black, any size) -> uint8 field [28 * 28].
function toField(ink, width, height) {
  const field = new Uint8Array(FIELD * FIELD);
  let peak = 0;
  for (const v of ink) peak = Math.max(peak, v);
  if (peak <= 0) return field;
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (ink[y * width + x] >= INK_THRESHOLD * peak) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
  const h = bottom - top + 1, w = right - left + 1, scale = BOX / Math.max(h, w);
  const bh = Math.max(1, roundEven(h * scale)), bw = Math.max(1, roundEven(w * scale));
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) crop[y * w + x] = f32(ink[(top + y) * width + left + x] / peak);
  const across = resize1d(crop, w, 1, h, w, bw); // rows: [h][bw]
  // Down the columns of [h][bw]: column k starts at k with stride bw; the result is [bw][bh].
  const down = resize1d(across, 1, bw, bw, h, bh);
  const box = new Uint8Array(bh * bw);
  let mass = 0, my = 0, mx = 0;
  for (let y = 0; y < bh; y++)
    for (let x = 0; x < bw; x++) {
      const v = roundEven(f32(Math.min(Math.max(down[x * bh + y], 0), 1) * 255));
      box[y * bw + x] = v; mass += v; my += y * v; mx += x * v;
    }
  const r0 = roundEven(CENTRE - my / mass), c0 = roundEven(CENTRE - mx / mass);
  for (let y = 0; y < bh; y++)
    for (let x = 0; x < bw; x++)
      if (r0 + y >= 0 && r0 + y < FIELD && c0 + x >= 0 && c0 + x < FIELD)
        field[(r0 + y) * FIELD + c0 + x] = box[y * bw + x];
  return field;
}

function shifted(field, dx, dy) {
  const out = new Uint8Array(FIELD * FIELD);
  for (let y = 0; y < FIELD; y++)
    for (let x = 0; x < FIELD; x++)
      if (x - dx >= 0 && x - dx < FIELD && y - dy >= 0 && y - dy < FIELD)
        out[y * FIELD + x] = field[(y - dy) * FIELD + x - dx];
  return out;
}

const sessions = {};
for (const name of Object.keys(NAMES))
  sessions[name] = await ort.InferenceSession.create(`models/${name}.onnx`, { executionProviders: ["wasm"] });

// Both models on one field (28 * 28 numbers from 0 to 255): {lenet5: {probs, c1}, mlp: {probs}}.
async function predict(field) {
  const image = new ort.Tensor("float32", Float32Array.from(field, (v) => f32(v / 255)), [1, FIELD, FIELD]);
  const result = {};
  for (const [name, session] of Object.entries(sessions)) {
    const out = await session.run({ image });
    result[name] = { probs: Array.from(out.probs.data), c1: out.c1 && out.c1.data };
  }
  return result;
}

window.mnistField = (ink, width, height) => Array.from(toField(ink, width, height));
window.mnistPredict = predict;

// The page.
const $ = (selector) => document.querySelector(selector);
const canvas = $("#pad"), pen = canvas.getContext("2d", { willReadFrequently: true });
let strokes = 0, offset = [0, 0], drawing = false;

function paint(target, pixels, scale = 1) {
  const ctx = target.getContext("2d"), img = ctx.createImageData(FIELD, FIELD);
  pixels.forEach((v, i) => {
    img.data.fill(255 - Math.round(v * scale), 4 * i, 4 * i + 3); // dark on white, as in the figures
    img.data[4 * i + 3] = 255;
  });
  ctx.putImageData(img, 0, 0);
}

function clear() {
  pen.fillStyle = "white";
  pen.fillRect(0, 0, CANVAS, CANVAS);
  strokes = 0;
  offset = [0, 0];
  return update();
}

async function update() {
  const rgba = pen.getImageData(0, 0, CANVAS, CANVAS).data;
  // Dark ink on white, like the tutorial's figures: ink is how far a pixel is from white.
  const ink = new Float32Array(CANVAS * CANVAS).map((_, i) => 255 - rgba[4 * i]);
  const field = shifted(toField(ink, CANVAS, CANVAS), ...offset);
  const result = await predict(field);
  paint($("#field"), field);
  const blank = !field.some((v) => v > 0);
  for (const [name, { probs }] of Object.entries(result)) {
    const top = probs.indexOf(Math.max(...probs));
    document.body.dataset[`top${name[0].toUpperCase()}${name.slice(1)}`] = blank ? "" : top;
    $(`#${name}`).innerHTML =
      `<b>${NAMES[name]}</b>: ${blank ? "draw a digit" : `reads <b>${top}</b>`}` +
      probs.map((p, d) => `<div class="bar"><span>${d}</span><i style="width:${(100 * p).toFixed(1)}%"></i>${(100 * p).toFixed(1)}%</div>`).join("");
  }
  const c1 = result.lenet5.c1, size = FIELD * FIELD;
  document.querySelectorAll(".map").forEach((map, k) => {
    const m = c1.subarray(k * size, (k + 1) * size), peak = Math.max(1e-6, ...m);
    paint(map, m, 255 / peak);
  });
  $("#caption").textContent = offset.some((v) => v) ? `shifted ${offset[0]} right, ${offset[1]} down` : "";
  document.body.dataset.strokes = strokes;
}

function at(event) {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) * CANVAS) / box.width, ((event.clientY - box.top) * CANVAS) / box.height];
}
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  pen.beginPath();
  pen.moveTo(...at(event));
  pen.lineTo(...at(event)); // a tap leaves a dot
  pen.stroke();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.lineTo(...at(event));
  pen.stroke();
});
const end = () => {
  if (!drawing) return;
  drawing = false;
  strokes += 1;
  update();
};
canvas.addEventListener("pointerup", end);
canvas.addEventListener("pointercancel", end);

pen.strokeStyle = "black";
pen.lineWidth = PEN;
pen.lineCap = pen.lineJoin = "round";
$("#clear").addEventListener("click", clear);
document.querySelectorAll("[data-shift]").forEach((button) =>
  button.addEventListener("click", () => {
    const [dx, dy] = button.dataset.shift.split(",").map(Number);
    offset = [offset[0] + STEP * dx, offset[1] + STEP * dy];
    update();
  }),
);
await clear();
$("#status").textContent = "Both models run in this page (onnxruntime-web); nothing is sent anywhere.";
document.body.dataset.readyMs = Math.round(performance.now()); // since the page was asked for
document.body.dataset.ready = "1";
