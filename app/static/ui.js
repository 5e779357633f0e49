// Small DOM and formatting helpers shared by the page's modules: labels, fields marked invalid, the clipboard,
// downloads and scrolling a result into view.

export const $ = (id) => document.getElementById(id);

// The label on screen of a form control, by id ("min_length" -> "Min length", "score-input" -> "Name").
export function fieldLabel(id) {
  const input = $(id);
  if (!input) return null;
  const label = document.querySelector(`label[for="${input.id}"]`) || input.closest("label");
  return label ? label.textContent.trim() : null;
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
