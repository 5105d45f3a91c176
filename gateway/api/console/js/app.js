// The console's shell: sign-in, the hash router (#/functions, #/functions/NAME/TAB) and the
// header. Each view gets an AbortSignal that ends when the user navigates away (it stops a
// log follow, a refresh timer, a pending request).

import {call, session} from "./api.js";
import {h, fill, errorBox, busy} from "./dom.js";
import {functionList, newFunction} from "./functions.js";
import {functionPage} from "./function.js";

const main = document.getElementById("main");
let current = null;

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent),
          query: new URLSearchParams(query)};
}

function header() {
  const signedIn = Boolean(session.token);
  fill(document.getElementById("nav"),
    signedIn ? h("a", {href: "#/functions"}, "Functions") : null);
  const claims = session.claims();
  fill(document.getElementById("who"), signedIn ? [
    h("span", {title: claims.scope ?? ""}, claims.sub ? `signed in as ${claims.sub}` : "signed in"),
    h("button", {type: "button", id: "sign-out", onclick: () => {
      session.clear();
      location.hash = "#/signin";
    }}, "Sign out"),
  ] : []);
}

function signIn(view) {
  const token = h("textarea", {id: "token", name: "token", rows: 4, autocomplete: "off",
                               spellcheck: "false", placeholder: "eyJhbGciOi…"});
  const out = h("div");
  const button = h("button", {class: "primary", type: "submit", id: "sign-in"}, "Sign in");
  busy(button, out, async () => {
    session.token = token.value.trim();
    try {
      // Any read tells whether the gateway takes the token.
      await call("GET", "functions", {query: {per_page: 1}, signal: view.signal});
    } catch (err) {
      session.clear();
      throw err;
    }
    location.hash = "#/functions";
  });
  fill(main, h("form", {class: "panel signin"},
    h("h1", {}, "Sign in"),
    h("p", {class: "muted"}, "Paste a token (a JWT, e.g. from ",
      h("code", {}, "fngate token --sub you --scope \"read:functions write:functions execute:all read:jobs\""),
      "). It stays in this tab's session storage and is sent only to this gateway."),
    token, h("div", {class: "row"}, button), out));
  token.focus();
}

async function route() {
  current?.abort();
  current = new AbortController();
  const view = {signal: current.signal, query: null};
  const {parts, query} = parseHash();
  view.query = query;
  header();
  if (!session.token || parts[0] === "signin") {
    signIn(view);
    return;
  }
  try {
    if (parts[0] === "functions" && parts[1] === "new") await newFunction(main, view);
    else if (parts[0] === "functions" && parts[1]) {
      await functionPage(main, view, parts[1], parts[2] ?? "code");
    } else await functionList(main, view);
  } catch (err) {
    if (err?.name === "AbortError") return;
    fill(main, errorBox(err), err?.status === 401
      ? h("p", {}, h("a", {href: "#/signin"}, "Sign in again")) : null);
  }
}

window.addEventListener("hashchange", route);
if (!location.hash) location.hash = session.token ? "#/functions" : "#/signin";
else route();
