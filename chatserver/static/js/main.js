// Start the web client: sign in (development tokens or a platform token), connect, and show
// the views this person's role allows: Chat for everyone, Q&A, and Moderation for staff.

import { $, h, isStaff, roleLabel, fill } from "./dom.js";
import { t, lang, setLang, LANGUAGES, translatePage, justSwitched } from "./i18n.js";
import * as session from "./session.js";
import { ChatConnection, clientLocale } from "./connection.js";
import { ChatView } from "./chat.js";
import { setupTabs } from "./tabs.js";
import { ModerationConsole } from "./moderation.js";
import { QAView } from "./qa.js";
import { setupSkipLink } from "./skiplink.js";
import { CasesPanel } from "./cases.js";
import { PrivateConversations } from "./private.js";
import { loadSupport } from "./notices.js";

async function showSignIn(message = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#signout").hidden = true;
  const error = $("#signin-error");
  error.textContent = message;
  error.hidden = !message;
  const communities = await session.devCommunities();
  const devForm = $("#dev-signin");
  const tokenForm = $("#token-signin");
  if (communities) {
    devForm.hidden = false;
    $("#signin-mode").textContent = t("signin.dev_mode");
    const select = $("#signin-community");
    fill(select, ...communities.map((c) => h("option", { value: c.name }, c.title ? `${c.title} (${c.name})` : c.name)));
    const last = session.load();
    if (last) {
      $("#signin-name").value = last.name || "";
      if (communities.some((c) => c.name === last.community)) select.value = last.community;
      $("#signin-role").value = last.role || "member";
    }
    if (switchedLanguage) $("#signin-title").focus();
    else $("#signin-name").focus();
  } else {
    devForm.hidden = true;
    $("#signin-mode").textContent = t("signin.token_mode");
    if (switchedLanguage) $("#signin-title").focus();
    else $("#token-input").focus();
  }
  tokenForm.hidden = false;
}

function wireSignIn() {
  let busy = false;
  $("#dev-signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    // aria-disabled, not disabled: a disabled button would drop keyboard focus to <body>.
    const button = event.submitter;
    busy = true;
    button?.setAttribute("aria-disabled", "true");
    try {
      const s = await session.devSignIn({
        name: $("#signin-name").value,
        community: $("#signin-community").value,
        role: $("#signin-role").value,
        invisible: $("#signin-invisible").checked,
      });
      session.save(s);
      start(s, { focus: true });
    } catch (error) {
      showSignIn(error.message);
    } finally {
      busy = false;
      button?.removeAttribute("aria-disabled");
    }
  });
  $("#token-signin").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      const s = session.sessionFromToken($("#token-input").value);
      session.save(s);
      start(s, { focus: true });
    } catch (error) {
      showSignIn(error.message);
    }
  });
  $("#signout").addEventListener("click", () => {
    session.forget();
    location.reload();
  });
}

let started = false;
// Reloaded by the language switch: focus goes to the view's heading (the switch is gone).
const switchedLanguage = justSwitched();

function start(s, { focus = false } = {}) {
  if (started) return;
  started = true;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  $("#whoami").textContent = t("whoami", { name: s.name, role: roleLabel(s.role), community: s.community });
  document.title = `${s.community} · chatserver`;
  const conn = new ChatConnection(s, session.tokenRefresher(s));
  const staff = isStaff(s.role);
  const views = { conn, session: s };
  setupTabs({ staff });
  fitSidebar();
  // Signed in from the form, which now disappears: focus goes on to the message box, never
  // to <body>. On a page load the browser's own starting point stays.
  if (focus) $("#composer-text").focus();
  else if (switchedLanguage) $("#room-title").focus(); // the view's heading, not <body>
  const chat = new ChatView(conn, s, null);
  views.chat = chat;
  window.chatApp = views; // for debugging in the browser console
  conn.addEventListener("status", (event) => {
    if (event.detail.state === "connected" && !views.started) {
      views.started = true;
      if (staff) chat.moderation = views.moderation = new ModerationConsole(conn, s, chat);
      views.private = new PrivateConversations(conn, s, chat);
      if (staff) {
        views.cases = new CasesPanel(conn, s, {
          directory: views.moderation.directory,
          rooms: () => chat.rooms,
          onConversation: (c) => views.private.open(c),
        });
        views.cases.mount($("#panel-mod"));
        views.moderation.setCases(views.cases);
      }
      views.qa = new QAView(conn, s, chat);
      chat.start().then(() => views.private.load());
      loadSupport(conn, s, chat.crisis, clientLocale());
    }
    if (event.detail.state === "disconnected" && [1, 3500].includes(event.detail.code) && s.source === "token") {
      session.forget();
    }
  });
  conn.connect();
}

// Rooms and people: always open beside the conversation on wide screens, folded on phones.
function fitSidebar() {
  const wide = window.matchMedia("(min-width: 721px)");
  const apply = () => { $("#sidebar").open = wide.matches; };
  wide.addEventListener("change", apply);
  apply();
}

// The language switch in the top bar: the page reloads in the chosen language (a signed-in
// tab stays signed in: its session is in sessionStorage).
function setupLanguage() {
  translatePage();
  const select = $("#lang-select");
  fill(select, ...LANGUAGES.map(([code, name]) => h("option", { value: code, lang: code, selected: code === lang() }, name)));
  select.addEventListener("change", () => setLang(select.value));
}

async function boot() {
  setupLanguage();
  wireSignIn();
  setupSkipLink();
  const handedToken = session.tokenFromLocation();
  if (handedToken) {
    try {
      const s = session.sessionFromToken(handedToken);
      session.save(s);
      return start(s);
    } catch (error) {
      return showSignIn(error.message);
    }
  }
  const saved = session.load();
  if (saved?.source === "dev") {
    try {
      const s = await session.devSignIn(saved); // a fresh token for the same person
      session.save(s);
      return start(s);
    } catch {
      return showSignIn();
    }
  }
  if (saved?.source === "token") return start(saved);
  return showSignIn();
}

boot();
