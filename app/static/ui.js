// Small DOM and formatting helpers shared by the page's modules: API errors turned into prose that uses the
// labels on screen, fields marked invalid, the clipboard, downloads and scrolling a result into view.

export const $ = (id) => document.getElementById(id);

// API parameters whose control has another id: /score's "text" is the box labelled "Name".
const CONTROL_OF = { text: "score-input" };

// The label on screen of a form control, by id ("min_length" -> "Min length"); the score box is "Name".
export function fieldLabel(id) {
  const input = $(CONTROL_OF[id] || id);
  if (!input) return null;
  const label = document.querySelector(`label[for="${input.id}"]`) || input.closest("label");
  return label ? label.textContent.trim() : null;
}

// API parameter names inside a server message, replaced by the labels on screen:
// "min_length (10) must be <= max_length (3)" -> "Min length (10) must be at most Max length (3)";
// "(prefix='emma', novel_only=True)" -> "(Starts with “emma”, Only names not in the training data)".
export function humanise(message, fields) {
  const label = (name) => (fields.includes(name) ? fieldLabel(name) : null);
  let text = String(message).replace(/^Value error, /, "");
  text = text.replace(/\b([a-z][a-z_]*)=(True|False|None|'[^']*'|"[^"]*"|[-+\w.]+)/g, (whole, name, value) => {
    const shown = label(name);
    if (!shown) return whole;
    if (value === "True") return shown;
    if (value === "False") return `not “${shown}”`;
    if (value === "None") return `${shown} off`;
    return `${shown} ${value.replace(/^['"](.*)['"]$/, "“$1”")}`;
  });
  const names = fields.filter((name) => name.length > 1).sort((a, b) => b.length - a.length);
  if (names.length) text = text.replace(new RegExp(`\\b(${names.join("|")})\\b`, "g"), (name) => label(name) || name);
  if (fields.includes("n")) text = text.replace(/^n\b/, label("n") || "n");
  return text
    .replace(/ \(the [a-z_]+ setting\)/g, "") // the server's own configuration, not a field on screen
    .replace(/ <= /g, " at most ")
    .replace(/ >= /g, " at least ")
    .replace(/ in \(0, 1\]/g, " above 0 and at most 1")
    .replace(/2\*\*64-1/g, "18446744073709551615");
}

// Any error body the API sends, as [{field, message}]: the 422 list ({"detail": [{"loc": ["query"|"body",
// param, ...], "msg": ...}]}), a {"detail": "one line"} (404/413/429/503), or no JSON at all. `fields` are
// the parameters that have a control on screen (its id is the parameter's name); `field` is null otherwise.
export async function apiProblems(response, fields) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    return [{ field: null, message: `The server answered ${response.status} ${response.statusText}.`.trim() }];
  }
  const detail = body && (body.detail ?? body.error ?? body.message);
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      const loc = Array.isArray(item.loc) ? item.loc : [];
      const param = ["query", "body"].includes(loc[0]) ? loc[1] : loc[0];
      const raw = String(item.msg || item.message || "invalid value");
      const field = typeof param === "string" && fields.includes(param) ? param : guessField(raw, fields);
      return { field, message: sentence(field, humanise(raw, fields)) };
    });
  }
  if (typeof detail === "string") {
    const field = response.status === 422 ? guessField(detail, fields) : null;
    return [{ field, message: sentence(field, humanise(detail, fields)) }];
  }
  if (detail && typeof detail === "object") return [{ field: null, message: detail.message || JSON.stringify(detail) }];
  return [{ field: null, message: `The server answered ${response.status}.` }];
}

// A message that does not name its field ("Input should be greater than 0") gets the field's label.
function sentence(field, message) {
  const label = field && fieldLabel(field);
  const text = message.replace(/\.$/, "");
  if (!label || text.startsWith(label)) return `${capitalise(text)}.`;
  const should = /^(Input|Value) should (.*)$/.exec(text);
  if (should) return `${label} should ${should[2]}.`;
  if (/^(must|should|is|can|cannot|has) /.test(text)) return `${label} ${text}.`;
  return `${label}: ${text}.`;
}

// A message that begins with a parameter's name ("n must be between 1 and 1000") is about that parameter.
function guessField(message, fields) {
  const first = /^(?:Value error, )?([a-z][a-z_]*)\b/.exec(message);
  return first && fields.includes(first[1]) ? first[1] : null;
}

export function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

// Mark a control invalid, with its message right below it (and named by aria-describedby).
export function markField(id, message) {
  const input = $(id);
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  const errorId = `${id}-error`;
  let note = $(errorId);
  if (!note) {
    note = document.createElement("p");
    note.id = errorId;
    note.className = "field-error";
    const check = input.closest(".check");
    const field = input.closest(".field");
    if (check) check.after(note);
    else if (field) field.append(note);
    else (input.closest(".input-with-button") || input).after(note);
  }
  note.textContent = message;
  const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  if (!described.includes(errorId)) input.setAttribute("aria-describedby", [errorId, ...described].join(" "));
}

export function clearField(id) {
  const input = $(id);
  if (!input) return;
  input.removeAttribute("aria-invalid");
  const errorId = `${id}-error`;
  $(errorId)?.remove();
  const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== errorId);
  if (described.length) input.setAttribute("aria-describedby", described.join(" "));
  else input.removeAttribute("aria-describedby");
}

// Focus a control, opening the <details> it sits in first.
export function focusField(id) {
  const input = $(id);
  if (!input) return;
  const details = input.closest("details");
  if (details) details.open = true;
  input.focus({ preventScroll: true });
  input.scrollIntoView({ block: "center", behavior: scrollBehaviour() });
}

export function scrollBehaviour() {
  return matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
}

// Scroll so `element` is in view, unless it already is: results appear where the eye is. True if it scrolled.
export function reveal(element, block = "start") {
  const rect = element.getBoundingClientRect();
  const visible = rect.top >= 0 && rect.bottom <= window.innerHeight;
  const tallButTopVisible = rect.height > window.innerHeight && rect.top >= 0 && rect.top < window.innerHeight / 2;
  if (visible || tallButTopVisible) return false;
  element.scrollIntoView({ block, behavior: scrollBehaviour() });
  return true;
}

// Copy text; navigator.clipboard needs a secure context, so plain http on a LAN falls back to execCommand.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission refused: try the old way below
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.className = "offscreen";
  area.setAttribute("readonly", "");
  area.setAttribute("aria-hidden", "true");
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.className = "offscreen";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function fmt(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
