// The browser side of mnist_lib.widget.DigitWidget: one ES module, no build step.
// It draws the strokes itself (so drawing never waits on Python), sends the strokes
// when each one ends, and shows what Python sends back in `result`. The top answers
// are also written as data attributes (data-top-lenet5, data-top-mlp, data-strokes, data-ink-lost)
// so a test can read them.

const SHIFTS = { "\u2190": [-1, 0], "\u2192": [1, 0], "\u2191": [0, -1], "\u2193": [0, 1] };
const STEP = 2; // pixels of the 28x28 field per click

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el: host }) {
  const root = el("div", "mnist-draw");
  root.dataset.strokes = "0";

  // Left: the canvas and its buttons.
  const left = el("div", "mnist-draw-left");
  const canvas = el("canvas", "mnist-draw-canvas");
  const size = model.get("canvas_size");
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  const buttons = el("div", "mnist-draw-buttons");
  const clear = el("button", "mnist-draw-clear", "clear");
  clear.type = "button";
  buttons.append(clear);
  for (const [arrow, [dx, dy]] of Object.entries(SHIFTS)) {
    const b = el("button", "mnist-draw-shift", arrow);
    b.type = "button";
    b.title = `move the 28x28 image ${STEP} pixels`;
    b.addEventListener("click", () => {
      const [x, y] = model.get("shift");
      model.set("shift", [x + STEP * dx, y + STEP * dy]);
      model.save_changes();
    });
    buttons.append(b);
  }
  left.append(canvas, buttons, el(
      "div",
      "mnist-draw-hint",
      // The pen has one width: a digit about half the canvas tall gets strokes as thick as
      // MNIST's after the fit into 20x20; a larger one comes out thinner (notebook 08).
      "draw one digit, about half the canvas tall",
    ));

  // Middle: what the models read. Right: the bars. Below: LeNet-5's C1 maps.
  const middle = el("div", "mnist-draw-middle");
  const field = el("img", "mnist-draw-field");
  field.alt = "the 28x28 image the models read";
  const shiftText = el("div", "mnist-draw-caption");
  middle.append(el("div", "mnist-draw-caption", "what the models read"), field, shiftText);

  const right = el("div", "mnist-draw-right");
  const maps = el("div", "mnist-draw-maps");
  const mapImgs = [];
  for (let k = 0; k < 6; k++) {
    const figure = el("figure");
    const img = el("img");
    img.alt = `C1 filter ${k}`;
    figure.append(img, el("figcaption", "", `C1 filter ${k}`));
    maps.append(figure);
    mapImgs.push(img);
  }
  const mapsBox = el("div", "mnist-draw-mapsbox");
  mapsBox.append(
    el(
      "div",
      "mnist-draw-caption",
      "LeNet-5's six C1 feature maps, each scaled to its own strongest response: " +
        "greys do not compare between maps, nor before and after a shift",
    ),
    maps,
  );

  root.append(left, middle, right, mapsBox);
  host.append(root);

  function paintStrokes() {
    // Dark ink on white, as the tutorial's figures show digits; only the stroke
    // coordinates go to Python, which renders the ink itself.
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "black";
    ctx.fillStyle = "black";
    ctx.lineWidth = model.get("stroke_width");
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of model.get("strokes")) paintStroke(stroke);
  }
  function paintStroke(points) {
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }

  // Pointer events cover the mouse, a pen and a finger alike.
  let current = null;
  function point(event) {
    const box = canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) * size) / box.width;
    const y = ((event.clientY - box.top) * size) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }
  function down(event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    paintStroke(current);
  }
  function move(event) {
    if (current === null) return;
    event.preventDefault();
    current.push(point(event));
    paintStroke(current.slice(-2));
  }
  function up() {
    if (current === null) return;
    const stroke = current;
    current = null;
    model.set("strokes", [...model.get("strokes"), stroke]);
    model.save_changes();
  }
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  clear.addEventListener("click", () => {
    model.set("strokes", []);
    model.set("shift", [0, 0]);
    model.save_changes();
  });

  // One row of bars per model, built on the first result.
  const bars = {};
  function ensureBars(models) {
    for (const m of models) {
      if (bars[m.name]) continue;
      const block = el("div", "mnist-draw-model");
      block.dataset.model = m.name; // the CSS gives each model its colour from the figures
      const title = el("div", "mnist-draw-title");
      const row = el("div", "mnist-draw-bars");
      const fills = [];
      for (let k = 0; k < 10; k++) {
        const col = el("div", "mnist-draw-bar");
        const track = el("div", "mnist-draw-track");
        const fill = el("div", "mnist-draw-fill");
        track.append(fill);
        col.append(track, el("div", "mnist-draw-digit", String(k)));
        row.append(col);
        fills.push(fill);
      }
      block.append(title, row);
      right.append(block);
      bars[m.name] = { title, fills };
    }
  }

  function show() {
    const result = model.get("result");
    if (!result || !result.models) return;
    ensureBars(result.models);
    for (const m of result.models) {
      const { title, fills } = bars[m.name];
      const top = m.top === null ? "" : String(m.top);
      title.textContent =
        m.top === null ? `${m.label}: (blank)` : `${m.label}: ${m.top} (${(100 * m.probs[m.top]).toFixed(1)}%)`;
      m.probs.forEach((p, k) => {
        fills[k].style.height = `${(100 * p).toFixed(1)}%`;
        fills[k].classList.toggle("mnist-draw-top", String(k) === top);
      });
      root.dataset[`top${m.name[0].toUpperCase()}${m.name.slice(1)}`] = top;
    }
    field.src = result.field;
    result.maps.forEach((uri, k) => (mapImgs[k].src = uri));
    const [dx, dy] = result.shift;
    // A shift near the edge crops the digit as well as moving it: say so.
    const lost = result.ink_lost || 0;
    shiftText.textContent =
      (dx || dy ? `shifted ${dx} right, ${dy} down` : "centred") +
      (lost > 0 ? `: ${(100 * lost).toFixed(0)}% of the ink left the field` : "");
    shiftText.classList.toggle("mnist-draw-warn", lost > 0);
    root.dataset.inkLost = String(lost);
    root.dataset.strokes = String(result.strokes);
  }

  function onStrokes() {
    if (current === null) paintStrokes();
  }
  model.on("change:result", show);
  model.on("change:strokes", onStrokes);
  paintStrokes();
  show();
  return () => {
    model.off("change:result", show);
    model.off("change:strokes", onStrokes);
  };
}

export default { render };
