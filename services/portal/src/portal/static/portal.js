// A sprinkle of script; every page works without it.
import { initAll } from "./vendor/govuk-frontend/govuk-frontend.min.js";

// supported.js has added this class before the page was drawn; added again here in case that script did not run (a
// page cached from before it was added, or it failed to load), since govuk-frontend's components need it to start.
document.body.classList.add("govuk-frontend-supported");
initAll();

// Signed out in one tab: the others leave their page at once (a learner's record, say), not when their clock ends.
// The page the portal answers a sign-out with writes a stamp their `storage` listener hears: written once the
// session has ended, so that the sign-in page they are sent to finds no session to go on with. The marker leaves the
// address, so that reloading that page later does not send away the tabs of a session signed in since.
const SIGNED_OUT = "lrs-portal-signed-out";
const signedOutHere = new URL(window.location.href);
if (signedOutHere.pathname === "/sign-in" && signedOutHere.searchParams.has("signed_out")) {
  try {
    window.localStorage.setItem(SIGNED_OUT, String(Date.now()));
  } catch (error) {
    // storage refused: the other tabs leave their page when their clock ends
  }
  signedOutHere.searchParams.delete("signed_out");
  window.history.replaceState(window.history.state, "", signedOutHere.href);
}

// The warning before the session ends (WCAG 2.2.1). Every request keeps a session for its idle limit, up to its
// absolute limit: a few minutes before the end a dialog says when, and "Stay signed in" asks the portal to keep it
// (and what was typed stays on the page); when the end is the absolute limit, the dialog says it cannot be put off.
// Tabs share the latest end (localStorage), so a tab in use keeps the others from warning or signing out.
let sessionTouched = () => {};
const timeout = document.querySelector("dialog[data-session-timeout]");
if (timeout && typeof timeout.showModal === "function") {
  const SHARED = "lrs-portal-session-ends";
  const idle = Number(timeout.dataset.idle) * 1000;
  const warnBefore = Number(timeout.dataset.warnBefore) * 1000;
  const form = timeout.querySelector("form[data-keep-alive]");
  const said = timeout.querySelector("[data-countdown-said]");
  const failed = timeout.querySelector("[data-keep-failed]");
  let final = timeout.dataset.final === "true";
  let endsAt = Date.now() + Number(timeout.dataset.endsIn) * 1000;
  let finalEndsAt = final ? endsAt : Infinity;
  let timer = null;
  let ticker = null;
  let lastSaid = "";
  let focusedBefore = null;

  const shared = () => {
    try {
      return Math.min(Number(window.localStorage.getItem(SHARED)) || 0, finalEndsAt);
    } catch (error) {
      return 0; // storage refused: this tab alone
    }
  };
  const share = () => {
    try {
      if (endsAt > shared()) window.localStorage.setItem(SHARED, String(endsAt));
    } catch (error) {
      // storage refused: this tab alone
    }
  };
  const words = (milliseconds) => {
    const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
    const count = (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`;
    const minutes = Math.floor(seconds / 60);
    if (minutes === 0) return count(seconds, "second");
    return seconds % 60 ? `${count(minutes, "minute")} ${count(seconds % 60, "second")}` : count(minutes, "minute");
  };
  // A screen reader hears the time left once a minute, then twice in the last minute: not every second.
  const saying = (milliseconds) => {
    const seconds = Math.ceil(milliseconds / 1000);
    if (seconds > 60) return `You will be signed out in ${Math.ceil(seconds / 60)} minutes.`;
    return seconds > 20 ? "You will be signed out in less than a minute." : "You will be signed out in less than 20 seconds.";
  };
  const signedOut = () => {
    const here = window.location.pathname + window.location.search;
    window.location.assign(timeout.dataset.signInUrl + encodeURIComponent(here));
  };
  const hide = () => {
    window.clearInterval(ticker);
    if (timeout.open) {
      timeout.close();
      if (focusedBefore && document.contains(focusedBefore)) focusedBefore.focus();
    }
  };
  const ended = () => {
    const elsewhere = shared();
    if (elsewhere > Date.now()) {
      endsAt = elsewhere;
      hide();
      schedule();
      return;
    }
    hide();
    signedOut();
  };
  const tick = () => {
    const left = endsAt - Date.now();
    if (left <= 0) {
      ended();
      return;
    }
    timeout.querySelectorAll("[data-countdown]").forEach((shown) => {
      shown.textContent = words(left);
    });
    const now = saying(left);
    if (now !== lastSaid) {
      lastSaid = now;
      said.textContent = now;
    }
  };
  const show = () => {
    timeout.querySelectorAll("[data-when]").forEach((part) => {
      part.hidden = part.dataset.when !== (final ? "final" : "idle");
    });
    failed.hidden = true;
    lastSaid = saying(endsAt - Date.now()); // the dialog's own text says it first
    tick();
    if (!timeout.open) {
      focusedBefore = document.activeElement;
      timeout.showModal();
    }
    timeout.focus();
    window.clearInterval(ticker);
    ticker = window.setInterval(tick, 1000);
  };
  const due = () => {
    const elsewhere = shared();
    if (elsewhere > endsAt) {
      endsAt = elsewhere; // kept by another tab
      schedule();
    } else if (Date.now() >= endsAt - warnBefore) {
      show();
    } else {
      schedule();
    }
  };
  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(due, Math.min(Math.max(0, endsAt - warnBefore - Date.now()), 2 ** 31 - 1));
  };
  const kept = (answer) => {
    endsAt = Date.now() + Number(answer.ends_in) * 1000;
    final = Boolean(answer.final);
    if (final) finalEndsAt = endsAt;
    share();
  };
  const keep = async () => {
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        redirect: "manual",
      });
      if (response.type === "opaqueredirect") {
        signedOut(); // the session had ended already
        return;
      }
      if (!response.ok) throw new Error(`status ${response.status}`);
      kept(await response.json());
      hide();
      schedule();
    } catch (error) {
      failed.hidden = false;
    }
  };
  // After a final warning is put away, the session still ends when it ends.
  const putAway = () => {
    hide();
    window.clearTimeout(timer);
    timer = window.setTimeout(ended, Math.max(0, endsAt - Date.now()));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    keep();
  });
  timeout.querySelector("[data-close]").addEventListener("click", putAway);
  timeout.addEventListener("cancel", (event) => {
    event.preventDefault(); // Escape: as the dialog's own button
    if (final) putAway();
    else keep();
  });
  window.addEventListener("storage", (event) => {
    if (event.key === SIGNED_OUT && event.newValue) {
      // Signed out in another tab: this one's page (a learner's record, say) goes at once, not when its clock ends.
      hide();
      window.clearTimeout(timer);
      signedOut();
      return;
    }
    if (event.key !== SHARED) return;
    const elsewhere = shared();
    if (elsewhere > endsAt) {
      endsAt = elsewhere;
      hide();
      schedule();
    }
  });
  // What the person does on the page (a typed record checked as they go) keeps the session too; a batch page
  // following its status does not.
  sessionTouched = () => {
    endsAt = Math.min(Date.now() + idle, finalEndsAt);
    share();
    if (!timeout.open) schedule();
  };
  share();
  schedule();
}

// Batch page: follow the status until the batch is decided, then reload to show the results (and say the outcome).
const batchStatus = document.getElementById("batch-status");
if (batchStatus && batchStatus.dataset.decided === "false") {
  const follow = async () => {
    try {
      const response = await fetch(batchStatus.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        // Following is the page's doing, not the person's: it keeps no session (the portal does not count it
        // either), so a page left open on a batch that waits still signs out when idle.
        const answer = await response.json();
        const tag = batchStatus.querySelector("[data-status]");
        if (tag && tag.dataset.status !== answer.status) {
          tag.textContent = answer.status;
          tag.dataset.status = answer.status;
        }
        if (answer.decided) {
          // The reload takes the live region with it: the marker has the page say the outcome in a focused banner.
          const decided = new URL(window.location.href);
          decided.searchParams.set("decided", "1");
          decided.searchParams.delete("wait");
          window.location.replace(decided.href);
          return;
        }
        if (answer.not_published) {
          // Nothing will process the batch (Kafka did not take it when it was sent): drawn again, the page says to
          // send the same file again, and follows it no longer.
          const drawn = new URL(window.location.href);
          drawn.searchParams.delete("wait");
          window.location.replace(drawn.href);
          return;
        }
      }
    } catch (error) {
      // The next attempt may do better; the "Check again" link still works.
    }
    window.setTimeout(follow, 1500);
  };
  follow();
}

// Once the outcome is said, the marker goes from the address: reloading the page later does not say it again.
if (document.querySelector("[data-decided-banner]")) {
  const shown = new URL(window.location.href);
  shown.searchParams.delete("decided");
  window.history.replaceState(window.history.state, "", shown.href);
}

// A page drawn as a form's answer (the check of an uploaded file, a look-up refused): Back and reload ask its
// address by GET, which leads to the form, instead of the browser's "Confirm form resubmission" sending the whole
// file or the ULN again. (A learner found is shown by GET: the look-up's POST is redirected, and needs no script.) The marker's value, when it has one, is the address to ask instead (direct entry filled in
// from the learner page: the form's own address).
const drawnFromPost = document.querySelector("[data-drawn-from-post]");
if (drawnFromPost) {
  window.history.replaceState(window.history.state, "", drawnFromPost.dataset.drawnFromPost || window.location.href);
}

// Upload: while the file is sent and checked (a while, for a large file on a slow line), the page says so in its
// status line (WCAG 4.1.3); Back to the page from the browser's cache empties it again.
const upload = document.querySelector("form[data-upload]");
const uploadStatus = upload && upload.querySelector("[data-upload-status]");
if (uploadStatus) {
  upload.addEventListener("submit", () => {
    const file = upload.querySelector("input[type=file]").files[0];
    uploadStatus.textContent = file ? `Uploading and checking ${file.name}\u2026` : "";
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) uploadStatus.textContent = "";
  });
}

// Direct entry: check the record as it is typed, with the same rules as on submit.
const entry = document.querySelector("form[data-check-url]");
if (entry) {
  let timer = null;
  const show = (name, message) => {
    const group = entry.querySelector(`[data-field="${name}"]`);
    if (!group) return;
    const error = group.querySelector(".govuk-error-message");
    const control = group.querySelector("input, select");
    group.classList.toggle("govuk-form-group--error", Boolean(message));
    if (error) {
      error.hidden = !message;
      error.querySelector(".portal-error-text").textContent = message || "";
    }
    if (control) {
      control.classList.toggle(control.tagName === "SELECT" ? "govuk-select--error" : "govuk-input--error", Boolean(message));
      const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== `${name}-error`);
      if (message) described.push(`${name}-error`);
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
    }
  };
  const touched = new Set();
  const check = async () => {
    const response = await fetch(entry.dataset.checkUrl, { method: "POST", body: new FormData(entry) });
    if (!response.ok) return;
    if (!response.redirected) sessionTouched();
    const answer = await response.json();
    let shown = 0;
    entry.querySelectorAll("[data-field]").forEach((group) => {
      const name = group.dataset.field;
      const message = touched.has(name) ? answer.errors[name] : "";
      if (message) shown += 1;
      show(name, message);
    });
    // Said of the errors shown (the fields filled in so far), never of fields not reached yet (WCAG 3.3.1, 4.1.3).
    const status = document.getElementById("entry-check-status");
    if (status) status.textContent = shown ? `${shown} problem${shown === 1 ? "" : "s"} found so far.` : "No problems found so far.";
  };
  entry.addEventListener("change", (event) => {
    if (event.target.name) touched.add(event.target.name);
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  });
}

// Printing: a closed <details> prints only its summary (a learner's History, say), so every closed one is opened for
// paper and closed again after.
const openedForPrint = [];
window.addEventListener("beforeprint", () => {
  document.querySelectorAll("details:not([open])").forEach((details) => {
    details.open = true;
    openedForPrint.push(details);
  });
});
window.addEventListener("afterprint", () => {
  openedForPrint.splice(0).forEach((details) => {
    details.open = false;
  });
});
