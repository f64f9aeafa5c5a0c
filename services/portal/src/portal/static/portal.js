// A sprinkle of script; every page works without it.
import { initAll } from "./vendor/govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("govuk-frontend-supported");
initAll();

// Batch page: follow the status until the batch is decided, then reload to show the results (and say the outcome).
const batchStatus = document.getElementById("batch-status");
if (batchStatus && batchStatus.dataset.decided === "false") {
  const follow = async () => {
    try {
      const response = await fetch(batchStatus.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
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

// A page drawn as a form's answer (the check of an uploaded file): Back and reload ask its address by GET, which
// leads to the form, instead of the browser's "Confirm form resubmission" sending the whole file again.
if (document.querySelector("[data-drawn-from-post]")) {
  window.history.replaceState(window.history.state, "", window.location.href);
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
    const answer = await response.json();
    entry.querySelectorAll("[data-field]").forEach((group) => {
      const name = group.dataset.field;
      show(name, touched.has(name) ? answer.errors[name] : "");
    });
    const status = document.getElementById("entry-check-status");
    if (status) status.textContent = answer.summary;
  };
  entry.addEventListener("change", (event) => {
    if (event.target.name) touched.add(event.target.name);
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  });
}
