// rarelab labeling page (candidates.html): label a round's candidates in a plain file
// opened from disk, keep the clicks in localStorage, save them as answers.csv for
// `rarelab search label RUN --csv answers.csv`. No server, no network: everything it needs
// is inline, the candidates in the JSON block #rl-data (written by rarelab/search/_page.py).
// Keys mean what they mean in the notebook gallery (widgets/gallery.js).

const NOT_RARE = -1;
const UNDO_KEPT = 200;

const data = JSON.parse(document.getElementById("rl-data").textContent);
const cands = data.candidates;
const rareNames = data.rare;
const main = document.getElementById("rl-main");
const countEl = document.getElementById("rl-count");
const saveButton = document.getElementById("rl-save");
const undoButton = document.getElementById("rl-undo");
const notice = document.getElementById("rl-notice");

const labels = new Map(); // item id -> index into rareNames, or NOT_RARE
let undo = []; // each action: [[item id, label before or null], ...]
let focus = 0;
let changedSinceSave = false;
let storageFailed = false;
const cells = [];
const cellsOf = new Map(); // item id -> its cells (one per candidate row)

// Same notation as the gallery (gallery.js formatProbability): 3.1e-03, never 0.00.
function formatProbability(p) {
  const [m, e] = p.toExponential(1).split("e");
  const n = Number(e);
  return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
}

function storageProblem(text) {
  storageFailed = true;
  notice.textContent = text;
  notice.hidden = false;
}

const validLabel = (v) => Number.isInteger(v) && (v === NOT_RARE || (v >= 0 && v < rareNames.length));

function load() {
  labels.clear();
  let text = null;
  let stored = null;
  try {
    text = localStorage.getItem(data.key);
  } catch (err) {
    storageProblem(`This browser keeps no labels of a page opened from a file (${err.name}): save answers.csv before closing it.`);
    return;
  }
  try {
    stored = JSON.parse(text || "null");
  } catch {
    storageProblem("The labels this browser kept for this page could not be read; they start empty here.");
    return;
  }
  if (!stored || typeof stored !== "object") return;
  for (const [id, lab] of Object.entries(stored.labels || {})) {
    if (cellsOf.has(Number(id)) && validLabel(lab)) labels.set(Number(id), lab);
  }
  const known = (step) => Array.isArray(step) && cellsOf.has(step[0]) && (step[1] === null || validLabel(step[1]));
  undo = Array.isArray(stored.undo) ? stored.undo.filter((a) => Array.isArray(a) && a.length && a.every(known)) : [];
}

function persist() {
  try {
    localStorage.setItem(data.key, JSON.stringify({ labels: Object.fromEntries(labels), undo: undo.slice(-UNDO_KEPT) }));
  } catch (err) {
    storageProblem(`Could not keep the labels in this browser (${err.name}): save answers.csv before closing the page.`);
  }
}

function labelText(lab, own) {
  if (lab === undefined) return "";
  if (lab === NOT_RARE) return "not rare";
  return lab === own ? `rare: ${rareNames[lab]}` : `other rare: ${rareNames[lab]}`;
}

function paintCell(k) {
  const c = cands[k];
  const cell = cells[k];
  const lab = labels.get(c.id);
  cell.classList.toggle("rl-rare", lab === c.cls);
  cell.classList.toggle("rl-other", lab !== undefined && lab !== NOT_RARE && lab !== c.cls);
  cell.classList.toggle("rl-not", lab === NOT_RARE);
  cell.querySelector(".rl-label").textContent = labelText(lab, c.cls);
  cell.setAttribute(
    "aria-label",
    `${rareNames[c.cls]} candidate ${c.rank}, P ${formatProbability(c.p)}, ${c.name || `item ${c.id}`}: ` +
      (lab === undefined ? "not labeled" : labelText(lab, c.cls)),
  );
}

function paintCount() {
  const ids = new Set(cands.map((c) => c.id));
  let done = 0;
  let rare = 0;
  for (const id of ids) {
    const lab = labels.get(id);
    if (lab !== undefined) done += 1;
    if (lab !== undefined && lab !== NOT_RARE) rare += 1;
  }
  countEl.textContent = `${done} / ${ids.size} labeled · ${rare} rare · ${done - rare} not rare`;
  countEl.dataset.labeled = String(done);
  saveButton.textContent = done ? `Save answers.csv (${done} label${done === 1 ? "" : "s"})` : "Save answers.csv";
  saveButton.disabled = done === 0;
  undoButton.disabled = undo.length === 0;
}

function paintAll() {
  cells.forEach((_, k) => paintCell(k));
  paintCount();
}

// One action (a click, a key, "all rare"): one undo step. Only the cells it touches repaint.
function setLabels(ids, lab) {
  const before = [];
  for (const id of ids) {
    const old = labels.has(id) ? labels.get(id) : null;
    if (old === lab) continue;
    before.push([id, old]);
    if (lab === null) labels.delete(id);
    else labels.set(id, lab);
  }
  if (!before.length) return;
  undo.push(before);
  if (undo.length > UNDO_KEPT) undo = undo.slice(-UNDO_KEPT);
  finish(before);
}

// Returns the cell to focus: the one item the undone action labeled, to label it again.
function undoLast() {
  const last = undo.pop();
  if (!last) return null;
  for (const [id, old] of last) {
    if (old === null) labels.delete(id);
    else labels.set(id, old);
  }
  finish(last);
  return last.length === 1 ? (cellsOf.get(last[0][0]) || [null])[0] : null;
}

function finish(changed) {
  changedSinceSave = true;
  persist();
  for (const [id] of changed) for (const k of cellsOf.get(id) || []) paintCell(k);
  paintCount();
}

function setFocus(k, scroll = true) {
  if (!cells.length) return;
  k = Math.max(0, Math.min(cells.length - 1, k));
  cells[focus].tabIndex = -1;
  focus = k;
  cells[k].tabIndex = 0;
  cells[k].focus({ preventScroll: true });
  if (scroll) cells[k].scrollIntoView({ block: "nearest" });
}

// The cell above or below: the nearest one by x in the next row, across class sections.
function vertical(dir) {
  const r0 = cells[focus].getBoundingClientRect();
  const x = r0.left + r0.width / 2;
  let rowTop = null;
  let best = focus;
  let bestDx = Infinity;
  for (let k = focus + dir; k >= 0 && k < cells.length; k += dir) {
    const r = cells[k].getBoundingClientRect();
    if (Math.abs(r.top - r0.top) < 1) continue;
    if (rowTop === null) rowTop = r.top;
    else if (Math.abs(r.top - rowTop) >= 1) break;
    const dx = Math.abs(r.left + r.width / 2 - x);
    if (dx < bestDx) {
      bestDx = dx;
      best = k;
    }
  }
  return best;
}

function toggle(k) {
  const c = cands[k];
  setLabels([c.id], labels.get(c.id) === c.cls ? NOT_RARE : c.cls);
}

function sectionIds(k) {
  return cands.filter((c) => c.cls === cands[k].cls).map((c) => c.id);
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return; // the browser's shortcuts (reload, find, save page)
  const onButton = ev.target instanceof HTMLButtonElement || ev.target instanceof HTMLAnchorElement;
  if (onButton && (ev.key === "Enter" || ev.key === " ")) return; // they press the button
  if (!cells.length) return;
  const c = cands[focus];
  const digit = /^[1-9]$/.test(ev.key) ? Number(ev.key) - 1 : null;
  let move = null;
  if (ev.key === "ArrowRight") move = focus + 1;
  else if (ev.key === "ArrowLeft") move = focus - 1;
  else if (ev.key === "ArrowDown") move = vertical(1);
  else if (ev.key === "ArrowUp") move = vertical(-1);
  else if (ev.key === "Home") move = 0;
  else if (ev.key === "End") move = cells.length - 1;
  else if (ev.key === "y") { setLabels([c.id], c.cls); move = focus + 1; }
  else if (ev.key === "n") { setLabels([c.id], NOT_RARE); move = focus + 1; }
  else if (digit !== null && digit < rareNames.length) { setLabels([c.id], digit); move = focus + 1; }
  else if (ev.key === "Backspace" || ev.key === "Delete") setLabels([c.id], null);
  else if (ev.key === "u") move = undoLast();
  else if (ev.key === "a") setLabels(sectionIds(focus), c.cls);
  else if (ev.key === "x") setLabels(sectionIds(focus), NOT_RARE);
  else if ((ev.key === " " || ev.key === "Enter") && ev.target === cells[focus]) toggle(focus);
  else return;
  ev.preventDefault();
  setFocus(move === null ? focus : move);
}

function csvField(value) {
  const s = String(value);
  return /[",;\t|\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

// The format `rarelab search label` reads: item_id first (it wins over the path), the label a
// class name or the page's word for "not rare"; unlabeled candidates are left out.
function answersCsv() {
  const lines = ["item_id,path,label"];
  const seen = new Set();
  for (const c of cands) {
    const lab = labels.get(c.id);
    if (lab === undefined || seen.has(c.id)) continue;
    seen.add(c.id);
    lines.push([c.id, c.path, lab === NOT_RARE ? data.not_label : rareNames[lab]].map(csvField).join(","));
  }
  return { text: lines.join("\n") + "\n", rows: seen.size };
}

function save() {
  const { text, rows } = answersCsv();
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "answers.csv";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  changedSinceSave = false;
  countEl.title = `${rows} labels saved at ${new Date().toLocaleTimeString()}`;
}

function build() {
  const sections = new Map();
  const frag = document.createDocumentFragment();
  rareNames.forEach((name, r) => {
    const n = cands.filter((c) => c.cls === r).length;
    if (!n) return;
    const sec = document.createElement("section");
    const h = document.createElement("h2");
    h.textContent = `${name}: ${n} candidate${n === 1 ? "" : "s"}, highest P(${name}) first`;
    const grid = document.createElement("div");
    grid.className = "rl-grid";
    sec.append(h, grid);
    frag.append(sec);
    sections.set(r, grid);
  });
  cands.forEach((c, k) => {
    const cell = document.createElement("figure");
    cell.className = "rl-cell";
    cell.tabIndex = -1;
    cell.setAttribute("role", "button");
    cell.dataset.index = String(k);
    cell.dataset.itemId = String(c.id);
    const img = document.createElement("img");
    img.width = data.thumb;
    img.height = data.thumb;
    img.alt = "";
    img.decoding = "async";
    img.src = c.thumb;
    const cap = document.createElement("figcaption");
    const lines = [`${formatProbability(c.p)} #${c.rank}`, rareNames[c.cls], c.name || `item ${c.id}`].map((text) => {
      const div = document.createElement("div");
      div.textContent = text;
      return div;
    });
    lines[0].className = "rl-p";
    lines[1].className = "rl-cls";
    lines[2].className = "rl-file";
    cap.append(...lines);
    cap.title = `${c.path || `item ${c.id}`}\nitem_id ${c.id} · score ${c.score}`;
    const lab = document.createElement("div");
    lab.className = "rl-label";
    cell.append(img, cap, lab);
    cell.addEventListener("click", () => {
      setFocus(k, false);
      toggle(k);
    });
    // Keys act on the focused cell, however it got focus (Tab, a screen reader, a press).
    cell.addEventListener("focus", () => {
      if (focus !== k) setFocus(k, false);
    });
    sections.get(c.cls).append(cell);
    cells.push(cell);
    if (!cellsOf.has(c.id)) cellsOf.set(c.id, []);
    cellsOf.get(c.id).push(k);
  });
  if (!cands.length) {
    const p = document.createElement("p");
    p.textContent = "This round has no candidates.";
    frag.append(p);
  }
  main.append(frag);
  if (cells.length) cells[0].tabIndex = 0;
  const digits = rareNames.map((name, r) => (r < 9 ? `${r + 1} ${name}` : null)).filter(Boolean);
  document.getElementById("rl-keys").textContent =
    "Click: rare / not rare · ←→↑↓ move · y rare · n not rare" +
    (rareNames.length > 1 ? ` · ${digits.join(", ")}` : "") +
    " · Backspace clear · u undo · a / x all of this class rare / not rare";
}

build();
load();
paintAll();
document.addEventListener("keydown", onKey);
saveButton.addEventListener("click", save);
undoButton.addEventListener("click", () => {
  const k = undoLast();
  if (k !== null) setFocus(k);
});
// The same page open twice (two tabs): the other tab's clicks show here too.
window.addEventListener("storage", (ev) => {
  if (ev.key !== data.key) return;
  load();
  paintAll();
});
window.addEventListener("beforeunload", (ev) => {
  // The labels stay in this browser; a warning only where they could not be kept.
  if (changedSinceSave && storageFailed) ev.preventDefault();
});
document.body.dataset.ready = "1";
