// The approval service's two pages (ADR 0052): enrol an authenticator from a one-time link, and
// approve one transaction after reading its summary. The service derives the challenge from the
// transaction and the summary shown here; this script only carries the browser's answer back.
"use strict";

const SUMMARY_ROWS = [
  ["Call", (s) => `${s.contract}.${s.method}`],
  ["Amount (minor units)", (s) => s.amount_minor],
  ["Asset", (s) => s.asset],
  ["From account", (s) => s.sender],
  ["To account", (s) => s.recipient],
  ["Chain", (s) => s.chain_id],
  ["Arguments", (s) => JSON.stringify(s.arguments)],
  ["Proposal expires at height", (s) => s.expires_at_height],
  ["Approval hash", (s) => s.approval_hash],
];

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json();
  if (!response.ok) {
    throw new Error(`${answer.code}: ${answer.message}`);
  }
  return answer;
}

function say(text, kind) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

function showSummary(view) {
  const table = document.getElementById("summary");
  table.replaceChildren();
  const rows = [["Approver", () => view.approver], ...SUMMARY_ROWS];
  for (const [label, value] of rows) {
    const row = table.insertRow();
    const head = document.createElement("th");
    head.textContent = label;
    row.appendChild(head);
    row.insertCell().textContent = String(value(view.summary) ?? "—");
  }
}

function onAct(action) {
  const button = document.getElementById("act");
  button.disabled = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      say(error.message, "error");
    }
  });
}

async function enrollPage(token) {
  const answer = await call("POST", "/v1/webauthn/enrolments/options", { token });
  document.getElementById("approver").textContent = answer.approver;
  say("Press the button and confirm on your authenticator.", "info");
  onAct(async () => {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(answer.publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    const done = await call("POST", "/v1/webauthn/enrolments", {
      token,
      credential: credential.toJSON(),
    });
    say(`Enrolled an authenticator for ${done.approver}.`, "ok");
  });
}

async function approvePage(challengeId) {
  const path = `/v1/challenges/${encodeURIComponent(challengeId)}`;
  const view = await call("GET", path);
  showSummary(view);
  if (view.status !== "waiting") {
    say(`This challenge is ${view.status}.`, view.status === "approved" ? "ok" : "error");
    return;
  }
  say("Check every line above, then approve with your authenticator.", "info");
  onAct(async () => {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(view.publicKey);
    const credential = await navigator.credentials.get({ publicKey });
    const done = await call("POST", `${path}/assertion`, { credential: credential.toJSON() });
    say(`Approved by ${done.approver}: the service signed approval ${done.approval_hash}.`, "ok");
  });
}

// Another link opened in the same tab changes only the fragment: start again from that link.
window.addEventListener("hashchange", () => window.location.reload());

document.addEventListener("DOMContentLoaded", () => {
  const secret = decodeURIComponent(window.location.hash.slice(1));
  const page = document.body.dataset.page;
  const start = page === "enroll" ? enrollPage : approvePage;
  if (!secret) {
    say("This link is incomplete: open the whole link you were given.", "error");
    return;
  }
  start(secret).catch((error) => say(error.message, "error"));
});
