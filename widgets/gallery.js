// rarelab candidate gallery: the top-k pool items of one rare class (the paper's Fig. 2)
// with inline labeling. Thumbnails arrive as one binary buffer of raw RGB pixels.
// Labels are never decided here: every action is sent to Python, which writes it to the
// run's label store and sends back the stored labels. Once the round is committed the
// gallery greys out; a click on a labeled item then offers a correction of its committed
// label (Python refuses anything else). With "next page by itself" (auto_advance) Python
// commits a fully labeled page and trains the next round in a background thread; the page
// stays on screen with the training's progress until the new candidates arrive.

const NOT_RARE = -1;

function bytesOf(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer ?? value);
}

function drawRGB(canvas, rgb, offset, h, w) {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0, j = offset; i < h * w; i++, j += 3) {
    img.data[4 * i] = rgb[j];
    img.data[4 * i + 1] = rgb[j + 1];
    img.data[4 * i + 2] = rgb[j + 2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function formatProbability(p) {
  // 3.1e-03, never 0.00: tiny probabilities are the point.
  const [m, e] = p.toExponential(1).split("e");
  const n = Number(e);
  return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
}

export function logBarWidth(p, decades = 6) {
  // Fraction of the bar for p on a log scale from 10^-decades to 1.
  if (!(p > 0)) return 0;
  return Math.max(0, Math.min(1, (Math.log10(p) + decades) / decades));
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "rarelab-gallery";
  root.tabIndex = 0;
  // Keys typed here belong to the gallery, not to JupyterLab's command shortcuts.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const header = document.createElement("div");
  header.className = "rl-header";
  const status = document.createElement("div");
  status.className = "rl-status";
  const grid = document.createElement("div");
  grid.className = "rl-grid";
  const help = document.createElement("div");
  help.className = "rl-help";
  // Committing ends the round for every view: a visible, deliberate control, never a key
  // that Jupyter also uses (Shift/Ctrl/Alt+Enter run cells).
  const footer = document.createElement("div");
  footer.className = "rl-footer";
  const commitButton = document.createElement("button");
  commitButton.className = "rl-commit jupyter-button";
  commitButton.type = "button";
  const undoButton = document.createElement("button");
  undoButton.className = "rl-undo jupyter-button";
  undoButton.type = "button";
  undoButton.textContent = "Undo";
  const nextButton = document.createElement("button");
  nextButton.className = "rl-next jupyter-button";
  nextButton.type = "button";
  nextButton.textContent = "Next round: train and propose";
  // Learning as you label: the person's choice, synced to Python's auto_advance.
  const autoBox = document.createElement("label");
  autoBox.className = "rl-auto";
  autoBox.title = "When every candidate of this round has a label, commit the round and train the next page " +
    "in the background; its candidates replace this page by themselves.";
  const autoInput = document.createElement("input");
  autoInput.type = "checkbox";
  autoBox.append(autoInput, " next page by itself");
  footer.append(commitButton, undoButton, nextButton, autoBox);
  // What the background job does now (training, proposing): shown while this page waits.
  const training = document.createElement("div");
  training.className = "rl-training";
  training.setAttribute("role", "status");
  training.hidden = true;
  // Round over: the correction offered for one committed label, under the grid.
  const correctBox = document.createElement("div");
  correctBox.className = "rl-correct";
  correctBox.hidden = true;
  // The focused item, larger: requested from Python when the focus moves (one image per message).
  const previewBox = document.createElement("figure");
  previewBox.className = "rl-preview";
  const preview = document.createElement("canvas");
  const previewCaption = document.createElement("figcaption");
  previewBox.append(preview, previewCaption);
  const body = document.createElement("div");
  body.className = "rl-body";
  body.append(grid, previewBox);
  root.append(header, training, body, footer, correctBox, status, help);
  el.appendChild(root);
  let previewFor = null;

  let focus = 0;
  let cells = [];

  const items = () => model.get("items");
  const labelOf = (id) => {
    const v = model.get("labels")[String(id)];
    return v === undefined ? null : v;
  };
  const send = (msg) => {
    msg.t0 = performance.now();
    model.send(msg);
  };

  const isStale = () => model.get("stale") || model.get("round_shown") < 0;
  const nameOf = (lab) => {
    if (lab === model.get("rare_class")) return "rare";
    return lab === NOT_RARE ? "not rare" : model.get("class_names")[lab] ?? String(lab);
  };

  function paintLabels() {
    const rare = model.get("rare_class");
    const names = model.get("class_names");
    const corrected = model.get("corrected") ?? {};
    items().forEach((it, k) => {
      const cell = cells[k];
      if (!cell) return;
      const lab = labelOf(it.id);
      const was = corrected[String(it.id)];
      cell.classList.toggle("rl-rare", lab === rare);
      cell.classList.toggle("rl-not", lab !== null && lab !== rare);
      cell.classList.toggle("rl-focus", k === focus);
      cell.classList.toggle("rl-committed", isStale() && lab !== null);
      cell.classList.toggle("rl-corrected", was !== undefined);
      const text = lab === null ? "" : lab === rare ? "rare" : lab === NOT_RARE ? "not" : names[lab] ?? String(lab);
      cell.querySelector(".rl-label").textContent = was === undefined ? text : `${text} (corrected)`;
      cell.title = was === undefined ? "" : `corrected after commit: was ${nameOf(was)}, now ${nameOf(lab)}`;
    });
    const labs = items().map((it) => labelOf(it.id));
    const nRare = labs.filter((l) => l === rare).length;
    const nDone = labs.filter((l) => l !== null).length;
    header.textContent = `${model.get("title")} — ${nDone}/${items().length} labeled, ${nRare} rare`;
    paintCommit();
    requestPreview();
  }

  let armedEmpty = null; // committing zero labels takes a second, deliberate click
  let armedAt = 0;
  function paintCommit() {
    const n = model.get("pending");
    const stale = isStale();
    root.classList.toggle("rl-stale", stale);
    commitButton.disabled = stale;
    // A round that is over has nothing to commit: the pending count is another round's.
    commitButton.style.display = stale ? "none" : "";
    undoButton.disabled = model.get("round_shown") < 0; // a round that is over undoes its corrections
    if (!stale) correctBox.hidden = true;
    nextButton.style.display = model.get("can_advance") ? "" : "none";
    if (armedEmpty && n > 0) armedEmpty = null;
    commitButton.textContent = armedEmpty
      ? `Click again to end round ${model.get("round_shown")} with no labels`
      : n > 0
        ? `Commit ${n} label${n === 1 ? "" : "s"} of round ${model.get("round_shown")}` +
          (model.get("auto_advance") ? " and train the next page" : "")
        : "Commit: no labels yet";
    autoInput.checked = Boolean(model.get("auto_advance"));
    commitButton.classList.toggle("rl-armed", Boolean(armedEmpty));
  }

  function onCommit() {
    if (model.get("stale")) return;
    if (model.get("pending") > 0) send({ type: "commit" });
    else if (armedEmpty) {
      if (performance.now() - armedAt < 600) return; // a double click is not a second thought
      clearTimeout(armedEmpty);
      armedEmpty = null;
      send({ type: "commit", allow_empty: true });
    } else {
      armedAt = performance.now();
      armedEmpty = setTimeout(() => { armedEmpty = null; paintCommit(); }, 5000);
    }
    paintCommit();
  }
  commitButton.addEventListener("click", onCommit);
  undoButton.addEventListener("click", () => send({ type: "undo" }));
  autoInput.addEventListener("change", () => {
    model.set("auto_advance", autoInput.checked);
    model.save_changes();
    paintCommit();
  });
  nextButton.addEventListener("click", () => {
    nextButton.disabled = true; // training takes a while: one click, one round
    send({ type: "next" });
  });

  function requestPreview() {
    const it = items()[focus];
    if (!it || it.id === previewFor) return;
    previewFor = it.id;
    previewCaption.textContent = `#${it.rank} · P = ${formatProbability(it.p)} · item ${it.id}`;
    model.send({ type: "preview", id: it.id });
  }

  function build() {
    grid.replaceChildren();
    previewFor = null;
    const [h, w] = model.get("thumb_shape");
    const rgb = bytesOf(model.get("pixels"));
    const ref = bytesOf(model.get("reference"));
    if (ref.length === h * w * 3) {
      const fig = document.createElement("figure");
      fig.className = "rl-cell rl-reference";
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      drawRGB(c, ref, 0, h, w);
      const cap = document.createElement("figcaption");
      cap.textContent = model.get("reference_caption");
      fig.append(c, cap);
      grid.appendChild(fig);
    }
    cells = items().map((it, k) => {
      const fig = document.createElement("figure");
      fig.className = "rl-cell";
      fig.dataset.index = String(k);
      fig.dataset.itemId = String(it.id);
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      drawRGB(c, rgb, k * h * w * 3, h, w);
      const cap = document.createElement("figcaption");
      cap.innerHTML = `<span class="rl-rank">#${it.rank}</span> <span class="rl-p">${formatProbability(it.p)}</span>`;
      const bar = document.createElement("div");
      bar.className = "rl-bar";
      bar.innerHTML = `<div style="width:${(100 * logBarWidth(it.p)).toFixed(1)}%"></div>`;
      bar.title = `P = ${it.p} (log scale, 1e-6 to 1)`;
      const lab = document.createElement("div");
      lab.className = "rl-label";
      fig.append(c, cap, bar, lab);
      fig.addEventListener("click", () => {
        focus = k;
        if (isStale()) {
          if (!model.get("training")) offerCorrection(k); // corrections wait for the next page
        } else toggle(k);
        root.focus();
      });
      grid.appendChild(fig);
      return fig;
    });
    focus = Math.min(focus, Math.max(0, cells.length - 1));
    paintHelp();
    paintLabels();
  }

  function paintHelp() {
    const sc = model.get("shortcuts");
    const keys = Object.keys(sc).map((d) => `${d}=${model.get("class_names")[sc[d]]}`).join(", ");
    const busy = model.get("training") ?? "";
    help.textContent = busy
      ? "training the next page in the background: it replaces this one when ready (the kernel stays free)"
      : isStale()
      ? "round over: click a labeled item to correct its committed label · u undo a correction"
      : "click: rare/not · ←→↑↓ move · y rare · n not · Backspace clear · u undo" +
        (keys ? ` · ${keys}` : "") + " · a all rare · x none · commit with the button";
  }

  function setLabel(indices, label) {
    const ids = indices.map((k) => items()[k].id);
    if (label === null) send({ type: "unlabel", ids });
    else send({ type: "label", ids, label });
  }

  function offerCorrection(k) {
    // A committed label can be corrected; an item the round left unlabeled stays so.
    const it = items()[k];
    const lab = labelOf(it.id);
    const round = model.get("round_shown");
    correctBox.replaceChildren();
    correctBox.hidden = false;
    correctBox.dataset.itemId = String(it.id);
    const text = document.createElement("span");
    if (lab === null) {
      text.textContent = `Item ${it.id} has no label from round ${round}: a round that is over takes no new labels.`;
      correctBox.append(text);
      return;
    }
    text.textContent = `Correct item ${it.id}'s committed label (${nameOf(lab)}) to:`;
    correctBox.append(text);
    const sc = model.get("shortcuts");
    const choices = [model.get("rare_class"), NOT_RARE, ...Object.values(sc)];
    [...new Set(choices)].filter((c) => c !== lab).forEach((c) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "rl-correct-to jupyter-button";
      b.dataset.label = String(c);
      b.textContent = nameOf(c);
      b.addEventListener("click", () => {
        send({ type: "correct", ids: [it.id], label: c });
        correctBox.hidden = true;
      });
      correctBox.append(b);
    });
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "rl-correct-cancel jupyter-button";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => { correctBox.hidden = true; });
    const note = document.createElement("span");
    note.className = "rl-correct-note";
    note.textContent = "used from the next training on; the old label stays in the history";
    correctBox.append(cancel, note);
  }

  function toggle(k) {
    const rare = model.get("rare_class");
    setLabel([k], labelOf(items()[k].id) === rare ? NOT_RARE : rare);
  }

  function columns() {
    if (cells.length < 2) return 1;
    const top = cells[0].offsetTop;
    const n = cells.findIndex((c) => c.offsetTop !== top);
    return n === -1 ? cells.length : n;
  }

  function onKey(ev) {
    // Modified keys are Jupyter's (Shift+Enter runs the cell): they pass through untouched.
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (ev.shiftKey && ev.key === "Enter")) return;
    if (ev.target instanceof HTMLButtonElement) return; // Enter/Space press the button
    if (isStale()) {
      // A round that is over: no labeling keys; u undoes a correction, Escape closes the offer.
      if (ev.key === "u") send({ type: "undo" });
      else if (ev.key === "Escape") correctBox.hidden = true;
      ev.stopPropagation();
      return;
    }
    const n = cells.length;
    const rare = model.get("rare_class");
    const sc = model.get("shortcuts");
    let handled = true;
    if (ev.key === "ArrowRight") focus = Math.min(n - 1, focus + 1);
    else if (ev.key === "ArrowLeft") focus = Math.max(0, focus - 1);
    else if (ev.key === "ArrowDown") focus = Math.min(n - 1, focus + columns());
    else if (ev.key === "ArrowUp") focus = Math.max(0, focus - columns());
    else if (ev.key === "y" && n) { setLabel([focus], rare); focus = Math.min(n - 1, focus + 1); }
    else if (ev.key === "n" && n) { setLabel([focus], NOT_RARE); focus = Math.min(n - 1, focus + 1); }
    else if (ev.key === "u") send({ type: "undo" });
    else if (ev.key === "Backspace" && n) setLabel([focus], null);
    else if (ev.key in sc && n) { setLabel([focus], sc[ev.key]); focus = Math.min(n - 1, focus + 1); }
    else if (ev.key === "a" && n) setLabel([...Array(n).keys()], rare);
    else if (ev.key === "x" && n) setLabel([...Array(n).keys()], NOT_RARE);
    else handled = false;
    // Every key typed in the gallery stays in the gallery: number keys must not turn the
    // cell into a heading, Enter must not enter edit mode.
    ev.stopPropagation();
    if (handled) {
      ev.preventDefault();
      paintLabels();
      cells[focus]?.scrollIntoView({ block: "nearest" });
    }
  }

  const onStatus = () => {
    status.textContent = model.get("status");
    status.classList.toggle("rl-error", model.get("status").startsWith("error"));
    status.classList.toggle("rl-warning", model.get("stale"));
  };
  const onStale = () => { paintHelp(); paintLabels(); onStatus(); };
  const onTraining = () => {
    const text = model.get("training") ?? "";
    training.textContent = text;
    training.hidden = !text;
    root.classList.toggle("rl-busy", Boolean(text));
    paintHelp();
  };
  const onMessage = (msg, buffers) => {
    if (msg && msg.type === "preview") {
      if (msg.id !== previewFor || !buffers || !buffers.length) return;  // the focus moved on meanwhile
      const [h, w] = msg.shape;
      preview.width = w;
      preview.height = h;
      drawRGB(preview, bytesOf(buffers[0]), 0, h, w);
      root.dataset.previewId = String(msg.id);
      return;
    }
    onAck(msg);
  };
  const onAck = (msg) => {
    // Python acknowledges each stored label; the round trip is the keypress-to-store latency.
    if (msg && msg.type === "ack" && typeof msg.t0 === "number") {
      root.dataset.lastLatencyMs = String(performance.now() - msg.t0);
      root.dataset.acks = String(Number(root.dataset.acks ?? 0) + 1);
    }
  };
  const stopKeyup = (ev) => ev.stopPropagation();
  const listeners = [
    ["change:labels", paintLabels],
    ["change:corrected", paintLabels],
    ["change:items", build],
    ["change:pixels", build],
    ["change:status", onStatus],
    ["change:stale", onStale],
    ["change:round_shown", onStale],
    ["change:pending", paintCommit],
    ["change:can_advance", () => { nextButton.disabled = false; paintCommit(); }],
    ["change:auto_advance", paintCommit],
    ["change:training", onTraining],
    ["msg:custom", onMessage],
  ];
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", stopKeyup);
  listeners.forEach(([event, fn]) => model.on(event, fn));
  build();
  onStatus();
  onTraining();
  // Other processes (the CLI, another kernel) write to the same run: ask Python every few
  // seconds whether the store moved on; it repaints every view of the run if so.
  const poller = setInterval(() => {
    if (root.isConnected) model.send({ type: "poll" }); // a stale gallery too: its next-round offer follows
  }, 3000);
  // Wall-clock time after the first paint, so a benchmark can compare it with the kernel's clock.
  requestAnimationFrame(() => {
    root.dataset.paintedAt = String(Date.now());
    root.dataset.ready = "1";
  });

  return () => {
    clearInterval(poller);
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("keyup", stopKeyup);
    listeners.forEach(([event, fn]) => model.off(event, fn));
  };
}

export default { render };
