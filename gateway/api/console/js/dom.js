// Building the page from data: every text goes in as a text node (never as HTML), so what a
// function prints or returns cannot become markup.

/** An element: `h("a", {href: "#/x", onclick: fn, class: "c"}, "text", child, [more])`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value * 10) / 10} ms`;
}

export function badge(text) {
  return h("span", {class: `badge ${text}`}, text);
}

/** The API's error body, shown as it came: code, message, details and the request id. */
export function errorBox(err) {
  const details = err?.details && Object.keys(err.details).length ? err.details : null;
  return h("div", {class: "error-box", role: "alert"},
    h("div", {}, h("span", {class: "code"}, err?.code ?? "ERROR"),
      err?.status ? ` (HTTP ${err.status})` : "", ": ", err?.message ?? String(err)),
    details ? h("pre", {}, json(details)) : null,
    err?.requestId ? h("div", {class: "muted"}, `request id ${err.requestId}`) : null);
}

/** Run `action` on click with the button disabled meanwhile; its error goes to `out`. */
export function busy(button, out, action) {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      if (err?.name !== "AbortError") fill(out, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function field(label, input) {
  return h("label", {}, label, input);
}

export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map(([v, text]) =>
    h("option", {value: v, selected: v === value}, text ?? v)));
}
