// The web page of `python -m orchestrator serve`: plain JavaScript, no build step, nothing fetched
// from outside. It only calls this server's API (/v1/solve/steps, /v1/chat); every answer it
// shows as right comes from a verified result.
"use strict";

const BOX = { 4: [2, 2], 6: [2, 3], 9: [3, 3] };
const PATHS = { hrm: "the HRM alone", "hrm+repair": "the HRM, repaired with its own confident cells",
                search: "the exact search (the HRM's answer was wrong)", none: "nothing" };
const EXAMPLE_MAZE = [" S# #  # ", "#   # #  ", "       # ", "#    #  #", " #       ", "# # #    ",
                      "# # #  # ", "# # #   #", " #  #   G"].join("\n");
const $ = (id) => document.getElementById(id);
const thread = sessionStorage.getItem("hrm-thread") || "web-" + Math.random().toString(36).slice(2, 12);
sessionStorage.setItem("hrm-thread", thread);

let n = 9;
let givens = null; // the locked givens (n*n digits, 0 = blank) once a button was pressed
let steps = null;

// ---------------------------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------------------------

function cells() { return Array.from(document.querySelectorAll("#grid .cell")); }

function buildGrid(size) {
  n = size;
  givens = null;
  const grid = $("grid");
  grid.innerHTML = "";
  grid.className = "grid n" + n;
  grid.style.gridTemplateColumns = `repeat(${n}, auto)`;
  const [br, bc] = BOX[n];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const input = document.createElement("input");
      input.className = "cell";
      input.maxLength = 1;
      input.inputMode = "numeric";
      input.dataset.r = r;
      input.dataset.c = c;
      input.setAttribute("aria-label", `row ${r + 1}, column ${c + 1}`);
      if ((c + 1) % bc === 0 && c < n - 1) input.classList.add("box-right");
      if ((r + 1) % br === 0 && r < n - 1) input.classList.add("box-bottom");
      input.addEventListener("input", onType);
      input.addEventListener("paste", onPaste);
      input.addEventListener("keydown", onKey);
      grid.appendChild(input);
    }
  }
  $("size").value = String(n);
}

function onType(event) {
  const input = event.target;
  const v = parseInt(input.value, 10);
  input.value = v >= 1 && v <= n ? String(v) : "";
  input.classList.remove("solved", "hint", "bad");
  const i = +input.dataset.r * n + +input.dataset.c;
  if (givens && givens[i]) { input.value = String(givens[i]); return; } // givens stay as given
  input.classList.toggle("given", !givens && !!input.value);
  input.classList.toggle("entry", !!givens && !!input.value);
}

function onKey(event) {
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -n, ArrowDown: n };
  if (!(event.key in moves)) return;
  const all = cells();
  const next = all[all.indexOf(event.target) + moves[event.key]];
  if (next) { next.focus(); event.preventDefault(); }
}

function onPaste(event) {
  const text = (event.clipboardData || window.clipboardData).getData("text");
  if (parsePuzzle(text)) event.preventDefault();
}

// Text to digits: one line or rows; blanks . 0 _ ; separators | + - and spaces ignored.
function parsePuzzle(text) {
  const chars = text.replace(/[\s|+\-]/g, "");
  // Cells -> side of each sudoku variant (reasoner/tasks/variants.py; tests/test_registry.py checks).
  const size = { 16: 4, 36: 6, 81: 9 }[chars.length];
  if (!size || !/^[0-9._]+$/.test(chars)) {
    if (text.replace(/\s/g, "").length > 1) showVerdict("no", "Not a puzzle", "A sudoku has 16, 36 or 81 cells " +
      `(digits, blanks . 0 _); the text has ${chars.length}.`);
    return false;
  }
  const digits = Array.from(chars, (ch) => (/[1-9]/.test(ch) ? +ch : 0));
  if (digits.some((d) => d > size)) {
    showVerdict("no", "Not a puzzle", `A ${size}x${size} sudoku uses the digits 1 to ${size}.`);
    return false;
  }
  setPuzzle(size, digits);
  return true;
}

function setPuzzle(size, digits, lock = false) {
  buildGrid(size);
  cells().forEach((input, i) => {
    input.value = digits[i] ? String(digits[i]) : "";
    input.classList.toggle("given", !!digits[i]);
  });
  if (lock) givens = digits.slice();
  clearResults();
}

function values() { return cells().map((input) => +input.value || 0); }

function lockGivens() {
  if (!givens) givens = values();
  return givens;
}

function rows(digits) {
  const out = [];
  for (let r = 0; r < n; r++) out.push(digits.slice(r * n, r * n + n));
  return out;
}

function gridText(digits) { return rows(digits).map((row) => row.map((d) => d || ".").join("")).join("\n"); }

function clearResults() {
  $("verdict").className = "verdict";
  $("verdict").textContent = "";
  $("stepper").hidden = true;
  steps = null;
}

// ---------------------------------------------------------------------------------------------
// Talking to the server
// ---------------------------------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                       body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({ error: { message: `HTTP ${response.status}` } }));
  if (!response.ok) throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
  return data;
}

async function busy(fn) {
  const buttons = document.querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  $("verdict").className = "verdict"; // the last verdict goes until this action's arrives
  try { await fn(); } catch (err) { showVerdict("no", "Refused", err.message); } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function showVerdict(kind, title, text) {
  const box = $("verdict");
  box.className = "verdict " + kind;
  box.innerHTML = "";
  const b = document.createElement("b");
  b.textContent = title;
  box.append(b, document.createTextNode(text));
}

function describe(result) {
  const lines = [];
  if (result.verified) lines.push(`Answer found by ${PATHS[result.path]}; the verifier accepted it.`);
  lines.push(result.model_correct ? "The HRM's own answer was right." :
    "The HRM's own answer was wrong: " + (result.model_errors.slice(0, 3).join("; ") || "no answer") + ".");
  lines.push(`The Q-head halted after segment ${result.halted_at}.`);
  return lines.concat(result.notes || []).join("\n");
}

// ---------------------------------------------------------------------------------------------
// Buttons
// ---------------------------------------------------------------------------------------------

async function solve() {
  const puzzle = lockGivens();
  const data = await post("/v1/solve/steps", { puzzle: rows(puzzle), task: "sudoku" });
  const result = data.result;
  if (result.answer) {
    cells().forEach((input, i) => {
      if (puzzle[i]) return;
      input.value = String(result.answer[Math.floor(i / n)][i % n]);
      input.classList.remove("entry", "hint", "bad");
      input.classList.add("solved");
    });
  }
  const title = { solved: "Solved and verified", multiple_solutions: "Solved and verified (one of several solutions)",
                  no_solution: "This puzzle has no solution", unsolved: "No verified answer" }[result.status];
  showVerdict(result.verified ? "ok" : "no", title, describe(result));
  showSteps(data.steps, puzzle, result);
}

async function hint() {
  lockGivens();
  const reply = await post("/v1/chat", { message: "give me a hint:\n" + gridText(values()), thread_id: thread });
  if (reply.hint) {
    const input = cells()[(reply.hint.row - 1) * n + reply.hint.col - 1];
    input.value = String(reply.hint.digit);
    input.classList.remove("entry", "bad");
    input.classList.add("hint");
  }
  showVerdict(reply.ok ? "info" : "no", reply.hint ? "Hint" : "No hint", reply.text);
}

async function check() {
  const puzzle = lockGivens();
  const answer = values();
  const reply = await post("/v1/chat", { message: `check my answer:\n${gridText(puzzle)}\n\n${gridText(answer)}`,
                                         thread_id: thread });
  cells().forEach((input) => input.classList.remove("bad"));
  if (reply.check) {
    const f = reply.check;
    // With a unique solution the culprits are known exactly; otherwise every cell of a clash is marked.
    const bad = [...(f.unique_solution_known ? f.wrong : f.conflicts), ...f.changed_givens];
    for (const [r, c] of bad) cells()[(r - 1) * n + c - 1].classList.add("bad");
    showVerdict(f.ok ? "ok" : "no", f.ok ? "Correct: the verifier accepts your answer" : "Not right yet", reply.text);
  } else {
    showVerdict("no", "Not checked", reply.text);
  }
}

async function newPuzzle() {
  const level = $("level").value;
  const size = +$("size").value;
  const reply = await post("/v1/chat", { message: `generate a ${level} ${size}x${size} sudoku`, thread_id: thread });
  if (!reply.grid) throw new Error(reply.text);
  setPuzzle(reply.grid.length, reply.grid.flat(), true);
  showVerdict("info", "New puzzle", reply.text.split("\n")[0]);
}

// ---------------------------------------------------------------------------------------------
// The stepper: the HRM's answer after each segment
// ---------------------------------------------------------------------------------------------

function showSteps(list, puzzle, result) {
  steps = { list, puzzle, result };
  $("stepper").hidden = false;
  const range = $("step-range");
  range.max = String(list.length);
  range.value = String(result.halted_at);
  drawStep();
}

// One grid as a picture: a sudoku (givens grey) or a maze (walls dark, the path blue); `wrong` and
// `changed` are 1-based cells to mark.
function picture(answer, puzzle, wrong, changed) {
  const maze = typeof answer[0] === "string";
  const size = answer.length;
  const bad = new Set(wrong.map(([r, c]) => `${r - 1},${c - 1}`));
  const moved = new Set(changed.map(([r, c]) => `${r - 1},${c - 1}`));
  const box = document.createElement("div");
  box.className = "mini";
  box.style.gridTemplateColumns = `repeat(${size}, auto)`;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const cell = document.createElement("div");
      const v = answer[r][c];
      if (maze) {
        cell.className = { "#": "wall", o: "path", S: "end", G: "end" }[v] || "";
        cell.textContent = v === "S" || v === "G" ? v : "";
      } else {
        cell.textContent = String(v);
        if (puzzle[r * size + c]) cell.classList.add("given");
        const [br, bc] = BOX[size];
        if ((c + 1) % bc === 0 && c < size - 1) cell.classList.add("box-right");
        if ((r + 1) % br === 0 && r < size - 1) cell.classList.add("box-bottom");
      }
      if (bad.has(`${r},${c}`)) cell.classList.add("wrong");
      if (moved.has(`${r},${c}`)) cell.classList.add("changed");
      cell.dataset.r = r;
      cell.dataset.c = c;
      box.appendChild(cell);
    }
  }
  return box;
}

function drawStep() {
  const k = +$("step-range").value;
  const step = steps.list[k - 1];
  $("step-grid").replaceChildren(picture(step.answer, steps.puzzle, step.wrong, step.changed));
  const verdict = step.verified ? "verified ✓" : step.wrong.length ? `${step.wrong.length} cells wrong` : "not verified";
  $("step-label").textContent = `segment ${k} of ${steps.list.length}: ${verdict}` +
    (k === steps.result.halted_at ? " · Q-head halts here" : "");
}

function moveStep(delta) {
  const range = $("step-range");
  range.value = String(Math.min(+range.max, Math.max(1, +range.value + delta)));
  drawStep();
}

// ---------------------------------------------------------------------------------------------
// Mazes
// ---------------------------------------------------------------------------------------------

function mazeRows() {
  const lines = $("maze-text").value.replace(/\r/g, "").split("\n");
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  // Editors drop trailing spaces: pad each row to the maze's side again.
  const side = Math.max(lines.length, ...lines.map((l) => l.length));
  return lines.map((l) => l.padEnd(side, " "));
}

async function solveMaze() {
  const data = await post("/v1/solve/steps", { puzzle: mazeRows(), task: "maze" });
  const result = data.result;
  $("maze-answer").replaceChildren(picture(result.answer || result.puzzle, [], [], []));
  const title = { solved: `Solved and verified: a shortest path of ${result.path_length} cells`,
                  no_solution: "This maze has no solution: G cannot be reached", unsolved: "No verified path" }[result.status];
  showVerdict(result.verified ? "ok" : "no", title, describe(result));
  showSteps(data.steps, [], result);
}

// ---------------------------------------------------------------------------------------------
// Chat (server-sent events: the graph's steps as they run, then the reply)
// ---------------------------------------------------------------------------------------------

function say(kind, text) {
  const div = document.createElement("div");
  div.className = "msg " + kind;
  div.textContent = text;
  $("chat-log").appendChild(div);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

async function chat(event) {
  event.preventDefault();
  const message = $("chat-input").value;
  if (!message.trim()) return;
  say("user", message);
  $("chat-input").value = "";
  const response = await fetch("/v1/chat", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify({ message, thread_id: thread, stream: true }) });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    say("agent", "Refused: " + (data.error ? data.error.message : `HTTP ${response.status}`));
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const kind = (block.match(/^event: (.*)$/m) || [])[1];
      const data = JSON.parse((block.match(/^data: (.*)$/m) || [, "{}"])[1]);
      if (kind === "step" && data.event === "start") $("chat-status").textContent = `${data.node} …`;
      if (kind === "reply") showChatReply(data);
      if (kind === "error") say("agent", "Error: " + data.error.message);
    }
  }
  $("chat-status").textContent = "";
}

function showChatReply(reply) {
  say("agent", reply.text);
  // A sudoku the reply is about goes onto the grid, with its verified answer if there is one.
  if (reply.task === "sudoku" && reply.grid && reply.grid.length && !reply.hint && !reply.check) {
    setPuzzle(reply.grid.length, reply.grid.flat(), true);
    if (reply.answer) {
      cells().forEach((input, i) => {
        if (givens[i]) return;
        input.value = String(reply.answer[Math.floor(i / n)][i % n]);
        input.classList.add("solved");
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------

function showTab(maze) {
  $("tab-sudoku").classList.toggle("active", !maze);
  $("tab-maze").classList.toggle("active", maze);
  $("sudoku-pane").hidden = maze;
  $("maze-pane").hidden = !maze;
  clearResults();
}

$("size").addEventListener("change", () => { buildGrid(+$("size").value); clearResults(); });
$("solve").addEventListener("click", () => busy(solve));
$("hint").addEventListener("click", () => busy(hint));
$("check").addEventListener("click", () => busy(check));
$("new").addEventListener("click", () => busy(newPuzzle));
$("clear").addEventListener("click", () => { buildGrid(n); clearResults(); });
$("load").addEventListener("click", () => parsePuzzle($("paste").value));
$("step-range").addEventListener("input", drawStep);
$("step-prev").addEventListener("click", () => moveStep(-1));
$("step-next").addEventListener("click", () => moveStep(1));
$("tab-sudoku").addEventListener("click", () => showTab(false));
$("tab-maze").addEventListener("click", () => showTab(true));
$("maze-example").addEventListener("click", () => { $("maze-text").value = EXAMPLE_MAZE; });
$("maze-solve").addEventListener("click", () => busy(solveMaze));
$("chat-form").addEventListener("submit", (event) => chat(event).catch((err) => say("agent", "Error: " + err.message)));
buildGrid(9);
