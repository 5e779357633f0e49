// Small DOM and formatting helpers shared by the page's modules, and API errors turned into prose.

export const $ = (id) => document.getElementById(id);

function fieldLabel(name) {
  const input = $(name);
  const label = input && document.querySelector(`label[for="${name}"]`);
  if (label) return label.firstChild.textContent.trim();
  return name === "text" ? "Name" : name;
}

// Turn any error body the API sends (FastAPI's 422 list, a {detail: "..."} string, or plain text) into prose.
export async function errorMessage(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    return `The server answered ${response.status} ${response.statusText}.`;
  }
  const detail = body && (body.detail ?? body.error ?? body.message);
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const loc = (item.loc || []).filter((part) => part !== "query" && part !== "body");
        const where = loc.length ? `${fieldLabel(String(loc[0]))}${loc.length > 1 ? ` (${loc.slice(1).join(".")})` : ""}: ` : "";
        return where + String(item.msg || item.message || "invalid value").replace(/^Value error, /, "");
      })
      .join("\n");
  }
  if (typeof detail === "string") return detail;
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return `The server answered ${response.status}.`;
}

export function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

export function fmt(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
