// The code editor: CodeMirror 6 (vendored ES modules), with the Lezer grammar of the
// function's runtime. It lives in a shadow root so that its styles go into a constructed
// style sheet there, which the page's strict style-src does not need to allow.

import {EditorState, Compartment} from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
import {
  LRLanguage, syntaxHighlighting, defaultHighlightStyle, bracketMatching, indentOnInput,
  indentUnit,
} from "@codemirror/language";
import {parser as pythonParser} from "@lezer/python";
import {parser as javascriptParser} from "@lezer/javascript";
import {parser as goParser} from "@lezer/go";
import {parser as rustParser} from "@lezer/rust";

const LANGUAGES = {
  python: [LRLanguage.define({name: "python", parser: pythonParser}), "    "],
  nodejs: [LRLanguage.define({name: "javascript", parser: javascriptParser}), "  "],
  go: [LRLanguage.define({name: "go", parser: goParser}), "\t"],
  rust: [LRLanguage.define({name: "rust", parser: rustParser}), "    "],
};

const theme = EditorView.theme({
  "&": {height: "100%", fontSize: "13px"},
  ".cm-scroller": {overflow: "auto", fontFamily: "ui-monospace, Menlo, Consolas, monospace"},
  ".cm-gutters": {backgroundColor: "#f6f7f9", borderRight: "1px solid #d9dee7"},
});

function languageOf(runtime) {
  const [language, unit] = LANGUAGES[runtime] ?? LANGUAGES.python;
  return [language, indentUnit.of(unit)];
}

/**
 * A CodeMirror editor inside `host`: `{value, setValue(text), setRuntime(runtime), focus()}`.
 */
export function createEditor(host, {doc = "", runtime = "python", readOnly = false} = {}) {
  const root = host.shadowRoot ?? host.attachShadow({mode: "open"});
  const mount = document.createElement("div");
  mount.className = "mount";
  root.replaceChildren(mount);
  const language = new Compartment();
  const view = new EditorView({
    root,
    parent: mount,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(),
        drawSelection(), indentOnInput(), bracketMatching(), highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, {fallback: true}),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        language.of(languageOf(runtime)), theme,
        EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly),
        EditorView.contentAttributes.of({"aria-label": "function code"}),
      ],
    }),
  });
  // The mount fills the host (a sized element of the page's own stylesheet).
  mount.style.height = "100%";
  return {
    view,
    get value() { return view.state.doc.toString(); },
    setValue(text) {
      view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}});
    },
    setRuntime(runtime) {
      view.dispatch({effects: language.reconfigure(languageOf(runtime))});
    },
    focus() { view.focus(); },
  };
}
