// jinqiao explorer: the views. Every value shown beside a "verified" mark is decoded from bytes
// that jinqiao-verify (verify.js, pinned by SRI) has checked against the genesis validators; the
// node's JSON is used only for what no proof covers (consensus in progress, the mempool, labels).

import * as V from "jinqiao-verify";

const view = document.getElementById("view");
const ASSET = "CNY";
const RECENT_BLOCKS = 20;
const LISTED_BLOCKS = 25;
const LISTED_RECORDS = 20;
const MAX_SEARCH_LENGTH = 200;
const MAX_FEED = 200;
const WATCH_STORAGE = "jinqiao-explorer-watchlist";
const MAX_WATCHED = 100;
const MAX_LINEAGE = 16;
const PARALLEL_REQUESTS = 4;

let trust = null;
const feed = [];
let renderToken = 0;

// ---------------------------------------------------------------------------------------------
// Records of docs/proofs.md §6, by field, to show proven values with their names.

const RECORDS = {
  Account: ["address", "public_key", "organization", "name_commitment", "roles", "active"],
  Asset: ["symbol", "name", "scale", "issuer", "default_tier"],
  Tier: ["name", "max_balance_minor", "max_payment_minor", "daily_limit_minor"],
  Holding: ["balance_minor", "tier", "frozen", "spent_day", "spent_minor"],
  Proposal: ["id", "action", "proposer", "proposer_organization", "created_height", "expires_height", "approvals", "status", "executed_height"],
  Cycle: ["cycle_id", "currency", "clearing_house", "status", "opened_height", "cutoff_height", "cutoff_time_ms", "funding_window_blocks", "closed_height", "funding_deadline_height", "round", "excluded", "unfunded_debtors", "debit_total_minor", "funded_minor", "settled_height", "report"],
  Position: ["institution", "net_minor", "debit_minor", "credit_minor", "funded_minor", "collateral_used_minor", "paid_out_minor", "excluded"],
  Payment: ["authorization", "mcc", "status", "authorized_height", "reversed_height", "capture", "refunded_minor", "refund_count", "chargeback", "representment"],
  Receivable: ["id", "root_id", "parent_id", "obligor", "holder", "holder_account", "face_value_minor", "due_time_ms", "status", "pledgee", "pledgee_account", "offer"],
  Authorization: ["payment_id", "issuer", "acquirer", "merchant_id", "payer_hash", "amount_minor", "currency", "channel", "card_type", "authorization_code", "time_ms"],
};

function record(name, value) {
  const fields = RECORDS[name];
  if (!Array.isArray(value) || value.length !== fields.length) {
    throw new V.VerificationError(`the proven value is not a ${name} record`);
  }
  return Object.fromEntries(fields.map((field, i) => [field, value[i]]));
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers (no innerHTML with data: every value goes in as text)

function el(tagName, attributes = {}, ...children) {
  const node = document.createElement(tagName);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(value) {
  if (value === null || value === undefined) return "—";
  if (value instanceof Uint8Array) return V.bytesToHex(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (typeof value === "object" && Array.isArray(value.map)) {
    return `{${value.map.map(([k, v]) => `${show(k)}: ${show(v)}`).join(", ")}}`;
  }
  return String(value);
}

function link(hash, text) {
  return el("a", { href: hash }, text);
}

function short(hex) {
  return hex.length > 20 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex;
}

function timeText(ms) {
  return new Date(Number(ms)).toISOString().replace(".000Z", "Z");
}

function section(title, ...children) {
  return el("section", { "aria-label": title }, el("h2", { text: title }), ...children);
}

function fields(pairs) {
  return el("dl", { class: "fields" }, pairs.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value instanceof Node ? value : show(value))]));
}

function mark(ok, reason) {
  if (ok) return el("span", { class: "mark ok", "data-verified": "yes", role: "status" }, "✔ verified");
  return el("span", { class: "mark bad", "data-verified": "no", role: "alert" }, `✘ not verified: ${reason}`);
}

async function checked(check) {
  try {
    const result = await check();
    return { ok: true, result, mark: mark(true) };
  } catch (error) {
    const reason = error instanceof V.VerificationError ? error.message : `the answer could not be checked (${error.message})`;
    return { ok: false, result: null, mark: mark(false, reason) };
  }
}

function message(kind, text) {
  return el("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// Every list shows as a table and downloads as CSV (the rows' text, as shown).
function table(name, columns, rows) {
  const download = el("button", { type: "button", class: "csv", onclick: () => saveCsv(name, columns, rows) }, `Download ${name} as CSV`);
  const head = el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", text: c }))));
  const body = el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell instanceof Node ? cell : show(cell))))));
  return el("div", { class: "list" }, el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": `${name} (scrolls sideways)` }, el("table", { "data-list": name }, head, body)), download);
}

function csvCell(cell) {
  const text = cell instanceof Node ? cell.textContent : show(cell);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvText(columns, rows) {
  return [columns, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function saveCsv(name, columns, rows) {
  saveFile(`${name}.csv`, new Blob([csvText(columns, rows)], { type: "text/csv" }));
}

function saveFile(filename, blob) {
  const url = URL.createObjectURL(blob);
  const anchor = el("a", { href: url, download: filename });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------------------------------------
// The API, as this viewer

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await answer.json();
  } catch {
    body = null;
  }
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

// A few requests at a time, in order: a view of many blocks does not flood the node.
async function fetchAll(paths) {
  const answers = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const index = next++;
      answers[index] = await api(paths[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_REQUESTS, paths.length) }, worker));
  return answers;
}

function problem(error, what) {
  if (error instanceof ApiError) {
    if (error.status === 403) return message("error", `Not permitted for your organization: ${what} (${error.message}).`);
    if (error.status === 404) return message("notfound", `Not found: ${what}.`);
    if (error.status === 401) return message("error", "This page needs your organization's client certificate.");
    return message("error", `The node refused ${what}: ${error.message}`);
  }
  return message("error", `Could not read ${what}: ${error.message}`);
}

const hexKey = (bytes) => V.bytesToHex(bytes);

async function provenState(contract, keyParts, label) {
  const key = V.stateKey(contract, ...keyParts);
  const contractKey = key.subarray(contract.length + 1);
  const answer = await api(`/v1/state/${contract}/${hexKey(contractKey)}`);
  const check = await checked(() => V.verifyStateAnswer(trust, answer.proof, key));
  const value = check.ok && check.result.value !== null ? V.decode(check.result.value) : null;
  return { check, value, label };
}

// ---------------------------------------------------------------------------------------------
// Views

async function overview() {
  const status = await api("/v1/status");
  const latest = await api("/v1/blocks/latest");
  const verified = await checked(() => V.verifyBlockAnswer(trust, latest));
  const head = BigInt(status.height);
  const first = head > BigInt(RECENT_BLOCKS) ? head - BigInt(RECENT_BLOCKS) + 1n : 1n;
  const heights = [];
  for (let h = head; h >= first && h >= 1n; h--) heights.push(h);
  const blocks = await fetchAll(heights.map((h) => `/v1/blocks/${h}`));
  const times = blocks.map((b) => Number(b.header.time_ms));
  const spanS = blocks.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1000 : 0;
  const transactions = blocks.slice(0, -1).reduce((n, b) => n + b.transaction_count, 0);
  const rate = spanS > 0 ? ((blocks.length - 1) / spanS).toFixed(2) : "—";
  const tps = spanS > 0 ? (transactions / spanS).toFixed(2) : "—";
  let consensus = null;
  try {
    consensus = await api("/v1/consensus");
  } catch (error) {
    consensus = { error };
  }
  const signers = new Set(latest.certificate.signatures.map((s) => s.validator));
  const validatorRows = status.validators.map((v) => {
    const live = consensus.validators ? consensus.validators.find((c) => c.address === v.address) : null;
    return [v.name, v.organization, short(v.address), v.power, signers.has(v.address) ? "signed" : "missing", live ? voteText(live.prevote) : "—", live ? voteText(live.precommit) : "—"];
  });
  return [
    section("Network", fields([
      ["chain", status.chain_id],
      ["height", el("span", { "data-field": "height" }, String(status.height))],
      ["latest block", el("span", {}, link(`#/block/${status.height}`, short(status.block_hash)), " ", verified.mark)],
      [`block rate (last ${blocks.length} blocks)`, `${rate} blocks/s`],
      ["transactions per second", tps],
      ["mempool", `${status.mempool_transactions} transactions`],
      ["consensus", consensus.summary || (consensus.error ? consensus.error.message : "—")],
      ["node", `${status.node} (${status.role})`],
    ])),
    section("Validators and their last votes", table("validators", ["name", "organization", "address", "power", `commit of block ${status.height}`, "prevote", "precommit"], validatorRows)),
    section("Latest blocks", blockTable(blocks)),
    section("Live events", liveFeed()),
  ];
}

function voteText(vote) {
  return vote === null ? "idle" : vote ? "voted" : "missing";
}

function blockTable(blocks) {
  return table("blocks", ["height", "hash", "time", "transactions", "rejected", "signatures"], blocks.map((b) => [
    link(`#/block/${b.header.height}`, String(b.header.height)),
    short(b.header.hash),
    timeText(b.header.time_ms),
    b.transaction_count,
    b.rejected_count,
    b.certificate.signatures.length,
  ]));
}

async function blocksView() {
  const latest = await api("/v1/blocks/latest");
  const head = latest.header.height;
  const heights = [];
  for (let h = head; h > Math.max(0, head - LISTED_BLOCKS); h--) heights.push(h);
  const answers = [latest, ...(await fetchAll(heights.slice(1).map((h) => `/v1/blocks/${h}`)))];
  const rows = [];
  for (const answer of answers) {
    const check = await checked(() => V.verifyBlockAnswer(trust, answer));
    const h = answer.header.height;
    rows.push([link(`#/block/${h}`, String(h)), short(answer.header.hash), timeText(answer.header.time_ms), answer.transaction_count, check.mark]);
  }
  return [section(`Blocks ${Math.max(1, head - LISTED_BLOCKS + 1)}–${head}`, table("blocks", ["height", "hash", "time", "transactions", "certificate"], rows))];
}

async function blockView(reference) {
  const path = /^[0-9]+$/.test(reference) ? `/v1/blocks/${reference}` : `/v1/blocks/by-hash/${reference}`;
  const answer = await api(`${path}?leaves=true`);
  const check = await checked(() => V.verifyBlockAnswer(trust, answer));
  const parts = [section(`Block ${answer.header.height}`, el("p", {}, "Header, commit certificate and transaction list: ", check.mark))];
  if (!check.ok) return parts;
  const { header, blockHash, transactions, receipts } = check.result;
  const set = trust.setFor(header.height);
  const signedBy = new Set(answer.certificate.signatures.map((s) => s.validator));
  parts.push(section("Header", fields([
    ["hash", V.bytesToHex(blockHash)],
    ["height", header.height],
    ["time", timeText(header.time_ms)],
    ["previous block", header.height > 1n ? link(`#/block/${header.height - 1n}`, V.bytesToHex(header.previous_block_hash)) : V.bytesToHex(header.previous_block_hash)],
    ["transactions root", header.transactions_root],
    ["receipts root", header.receipts_root],
    ["state root", header.state_root],
    ["validators hash", header.validators_hash],
    ["proposer", header.proposer],
  ])));
  parts.push(section("Commit certificate", table("certificate", ["validator", "organization", "power", "signed"], set.validators.map((v) => [v.name, v.organization, v.power, signedBy.has(V.bytesToHex(v.address)) ? "yes" : "no"]))));
  parts.push(section("Transactions", table("transactions", ["#", "hash", "contract", "method", "sender", "outcome", "events"], transactions.map((tx, i) => [
    i,
    link(`#/tx/${V.bytesToHex(tx.hash)}`, short(V.bytesToHex(tx.hash))),
    tx.body.contract,
    tx.body.method,
    link(`#/account/${V.bytesToHex(tx.body.sender)}`, short(V.bytesToHex(tx.body.sender))),
    receipts[i].code,
    receipts[i].events.length,
  ]))));
  return parts;
}

function decodedArguments(args) {
  try {
    return show(V.decode(args));
  } catch (error) {
    return `(not canonical MessagePack: ${error.message})`;
  }
}

async function transactionView(hash) {
  const answer = await api(`/v1/transactions/${hash}`);
  if (answer.status === "pending") return [section(`Transaction ${short(hash)}`, message("info", "Pending: in the mempool, not yet committed."))];
  const check = await checked(() => V.verifyTransactionAnswer(trust, hash, answer));
  const parts = [section(`Transaction ${short(hash)}`, el("p", {}, "Transaction and receipt: ", check.mark))];
  if (!check.ok) return parts;
  const { header, index, transaction, receipt } = check.result;
  const body = transaction.body;
  parts.push(section("Transaction", fields([
    ["hash", hash],
    ["block", link(`#/block/${header.height}`, `${header.height} (transaction ${index})`)],
    ["time", timeText(header.time_ms)],
    ["sender", link(`#/account/${V.bytesToHex(body.sender)}`, V.bytesToHex(body.sender))],
    ["contract.method", `${body.contract}.${body.method}`],
    ["arguments (decoded)", el("code", {}, decodedArguments(body.args))],
    ["nonce", body.nonce],
    ["valid until", body.valid_until],
  ])));
  parts.push(section("Receipt", fields([
    ["outcome", receipt.status === 0n ? "executed" : "rejected"],
    ["code", receipt.code],
    ["message", receipt.message || "—"],
    ["steps used", receipt.steps_used],
    ["result", receipt.result.length ? decodedArguments(receipt.result) : "—"],
  ])));
  parts.push(section("Events", table("events", ["#", "contract", "event", "attributes"], receipt.events.map((e, i) => [i, e.contract, e.name, e.attributes.map(([k, v]) => `${k}=${show(v)}`).join(" ")]))));
  return parts;
}

async function accountView(address) {
  const key = V.stateKey("registry", "account/", V.hexToBytes(address));
  const parts = [];
  try {
    const answer = await api(`/v1/accounts/${address}`);
    const check = await checked(() => V.verifyStateAnswer(trust, answer.proof, key));
    const account = check.ok ? record("Account", V.decode(check.result.value)) : null;
    parts.push(section(`Account ${short(address)}`, el("p", {}, "Registry record: ", check.mark), account ? fields(Object.entries(account)) : null, watchButton("account", address)));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && error.body && error.body.details && error.body.details.proof) {
      const check = await checked(() => V.verifyStateAnswer(trust, error.body.details.proof, key).then((r) => {
        if (r.value !== null) throw new V.VerificationError("the node says not found but proves a value");
      }));
      return [section(`Account ${short(address)}`, message("notfound", `Not found: no account ${address}.`), el("p", {}, "Absence: ", check.mark))];
    }
    return [section(`Account ${short(address)}`, problem(error, `account ${address}`))];
  }
  try {
    const answer = await api(`/v1/token/${ASSET}/balances/${address}`);
    const balanceKey = V.stateKey("token", `balance/${ASSET}/`, V.hexToBytes(address));
    const check = await checked(() => V.verifyStateAnswer(trust, answer.proof, balanceKey));
    let holding = null;
    if (check.ok) holding = check.result.value === null ? { balance_minor: 0n, tier: "(default)", frozen: false } : record("Holding", V.decode(check.result.value));
    parts.push(section(`${ASSET} balance`, el("p", {}, "Holding: ", check.mark), holding ? fields([["balance (minor units)", el("span", { "data-field": "balance" }, show(holding.balance_minor))], ["tier", holding.tier], ["frozen", holding.frozen]]) : null));
  } catch (error) {
    parts.push(section(`${ASSET} balance`, problem(error, "this account's balance")));
  }
  return parts;
}

async function tokenView() {
  const answer = await api(`/v1/token/${ASSET}`);
  const assetCheck = await checked(() => V.verifyStateAnswer(trust, answer.asset_proof, V.stateKey("token", `asset/${ASSET}`)));
  const supplyCheck = await checked(() => V.verifyStateAnswer(trust, answer.supply_proof, V.stateKey("token", `supply/${ASSET}`)));
  const asset = assetCheck.ok ? record("Asset", V.decode(assetCheck.result.value)) : null;
  const supply = supplyCheck.ok ? (supplyCheck.result.value === null ? 0n : V.decode(supplyCheck.result.value)) : null;
  const parts = [section(`Token ${ASSET}`, el("p", {}, "Asset: ", assetCheck.mark, " Supply: ", supplyCheck.mark), fields([
    ...(asset ? Object.entries(asset) : []),
    ["supply (minor units)", el("span", { "data-field": "supply" }, show(supply))],
  ]))];
  if (asset) {
    const tier = await provenState("token", [`tier/${asset.default_tier}`], "tier");
    const t = tier.value ? record("Tier", tier.value) : null;
    parts.push(section(`Default tier ${asset.default_tier}`, el("p", {}, tier.check.mark), t ? fields(Object.entries(t)) : null));
  }
  return parts;
}

async function governanceView() {
  const next = await provenState("governance", ["next_proposal_id"], "next proposal id");
  const nextId = next.value === null ? 1n : next.value;
  const rows = [];
  for (let id = nextId - 1n; id >= 1n && id > nextId - 1n - BigInt(LISTED_RECORDS); id--) {
    const proposal = await provenState("governance", ["proposal/", V.uint64Key(id)], `proposal ${id}`);
    const p = proposal.value ? record("Proposal", proposal.value) : null;
    rows.push(p ? [id, show(p.action[0]), p.proposer_organization, p.status, p.approvals.join(", "), p.created_height, p.executed_height || "—", proposal.check.mark] : [id, "—", "—", "—", "—", "—", "—", proposal.check.mark]);
  }
  return [section("Governance proposals", el("p", {}, "Proposal count: ", next.check.mark), rows.length ? table("proposals", ["id", "action", "proposer", "status", "approved by", "created", "executed", "proof"], rows) : message("info", "No proposals yet."))];
}

async function cyclesView() {
  const next = await provenState("payments", ["next_cycle_id"], "next cycle id");
  const nextId = next.value === null ? 1n : next.value;
  const rows = [];
  for (let id = nextId - 1n; id >= 1n && id > nextId - 1n - BigInt(LISTED_RECORDS); id--) {
    const cycle = await provenState("payments", ["cycle/", V.uint64Key(id)], `cycle ${id}`);
    const c = cycle.value ? record("Cycle", cycle.value) : null;
    rows.push([link(`#/cycle/${id}`, String(id)), c ? c.currency : "—", c ? c.status : "—", c ? c.opened_height : "—", c ? c.settled_height || "—" : "—", cycle.check.mark]);
  }
  return [section("Payments cycles", el("p", {}, "Cycle count: ", next.check.mark), rows.length ? table("cycles", ["cycle", "currency", "status", "opened", "settled", "proof"], rows) : message("info", "No cycles yet."))];
}

async function cycleView(id) {
  const cycleKey = V.stateKey("payments", "cycle/", V.uint64Key(id));
  const answer = await api(`/v1/payments/cycles/${id}`);
  const check = await checked(() => V.verifyStateAnswer(trust, answer.proof, cycleKey));
  const cycle = check.ok ? record("Cycle", V.decode(check.result.value)) : null;
  const parts = [section(`Cycle ${id}`, el("p", {}, "Cycle record: ", check.mark), cycle ? fields([["status", cycle.status], ["currency", cycle.currency], ["clearing house", cycle.clearing_house], ["opened at height", cycle.opened_height], ["closed at height", cycle.closed_height || "—"], ["settled at height", cycle.settled_height || "—"], ["debit total (minor)", cycle.debit_total_minor], ["funded (minor)", cycle.funded_minor]]) : null)];
  parts.push(await figuresSection(id));
  parts.push(statementsSection(id));
  return parts;
}

async function figuresSection(id) {
  let answer;
  try {
    answer = await api(`/v1/payments/cycles/${id}/figures`);
  } catch (error) {
    return section("Net positions", problem(error, `the figures of cycle ${id}`));
  }
  const check = await checked(async () => {
    const positions = [];
    for (const [institution, proofHex] of Object.entries(answer.proofs.positions)) {
      const key = V.stateKey("payments", "cycle/", V.uint64Key(id), `/position/${institution}`);
      const proven = await V.verifyStateAnswer(trust, proofHex, key);
      positions.push(record("Position", V.decode(proven.value)));
    }
    const participantsKey = V.stateKey("payments", "cycle/", V.uint64Key(id), "/participants");
    const participants = await V.verifyStateAnswer(trust, answer.proofs.participants, participantsKey);
    const named = participants.value === null ? [] : V.decode(participants.value);
    if (named.length !== positions.length) throw new V.VerificationError("a participant's position is missing");
    const figures = nettingFigures(positions);
    for (const field of ["gross_minor", "net_minor", "netting_efficiency_ppm"]) {
      if (BigInt(answer.figures[field]) !== figures[field]) {
        throw new V.VerificationError(`the node's ${field} ${answer.figures[field]} is not ${figures[field]}, computed from the proven positions`);
      }
    }
    return { positions, figures };
  });
  if (!check.ok) return section("Net positions", el("p", {}, "Positions and figures: ", check.mark));
  const { positions, figures } = check.result;
  const gross = figures.gross_minor;
  const net = figures.net_minor;
  const efficiency = `${(Number(figures.netting_efficiency_ppm) / 10000).toFixed(2)}%`;
  return section("Net positions", el("p", {}, "Positions (recomputed here from the proven records): ", check.mark),
    fields([["gross (minor)", gross], ["net (minor)", net], ["netting efficiency", el("span", { "data-field": "netting-efficiency" }, efficiency)]]),
    positionsChart(positions),
    table("positions", ["institution", "net (minor)", "debit (minor)", "credit (minor)", "funded (minor)", "excluded"], positions.map((p) => [p.institution, p.net_minor, p.debit_minor, p.credit_minor, p.funded_minor, p.excluded])));
}

// docs/api.md "/figures": gross = the sum of gross debits, net = the sum of net debits,
// efficiency = (gross - net) * 10^6 // gross (0 for an empty cycle), all integers.
// Excluded institutions' positions are not counted.
function nettingFigures(all) {
  const positions = all.filter((p) => !p.excluded);
  const gross = positions.reduce((n, p) => n + p.debit_minor, 0n);
  const net = positions.reduce((n, p) => n + (p.net_minor < 0n ? -p.net_minor : 0n), 0n);
  return { gross_minor: gross, net_minor: net, netting_efficiency_ppm: gross > 0n ? ((gross - net) * 1000000n) / gross : 0n };
}

function positionsChart(positions) {
  const width = 600;
  const rowHeight = 28;
  const largest = positions.reduce((m, p) => (p.net_minor < 0n ? -p.net_minor : p.net_minor) > m ? (p.net_minor < 0n ? -p.net_minor : p.net_minor) : m, 1n);
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${rowHeight * positions.length + 10}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Net positions: " + positions.map((p) => `${p.institution} ${p.net_minor}`).join(", "));
  svg.classList.add("chart");
  const middle = width / 2 + 60;
  positions.forEach((p, i) => {
    const size = (Number(p.net_minor < 0n ? -p.net_minor : p.net_minor) / Number(largest)) * (width / 2 - 80);
    const bar = document.createElementNS(svgNs, "rect");
    bar.setAttribute("x", String(p.net_minor < 0n ? middle - size : middle));
    bar.setAttribute("y", String(i * rowHeight + 6));
    bar.setAttribute("width", String(Math.max(size, 1)));
    bar.setAttribute("height", String(rowHeight - 10));
    bar.setAttribute("class", p.net_minor < 0n ? "debit" : "credit");
    const label = document.createElementNS(svgNs, "text");
    label.setAttribute("x", "4");
    label.setAttribute("y", String(i * rowHeight + 20));
    label.textContent = `${p.institution} ${p.net_minor}`;
    svg.append(bar, label);
  });
  return svg;
}

function statementsSection(id) {
  const organizations = trust.genesis.organizations.map((o) => o.id);
  const status = el("div", { "aria-live": "polite" });
  const buttons = organizations.map((institution) => el("button", { type: "button", "data-statement": institution, onclick: () => downloadStatement(id, institution, status) }, `${institution} statement (CSV)`));
  return section("Statements", el("div", { class: "buttons" }, buttons), status);
}

async function downloadStatement(id, institution, status) {
  status.replaceChildren(message("info", `Reading ${institution}'s statement…`));
  const answer = await fetch(`/v1/payments/cycles/${id}/statements/${institution}?format=csv`);
  if (answer.status === 403) {
    status.replaceChildren(message("error", `Not permitted for your organization: the statement of ${institution} for cycle ${id}.`));
  } else if (!answer.ok) {
    let body = null;
    try {
      body = await answer.json();
    } catch {
      body = null;
    }
    status.replaceChildren(problem(new ApiError(answer.status, body), `the statement of ${institution}`));
  } else {
    saveFile(`cycle-${id}-${institution}-statement.csv`, await answer.blob());
    status.replaceChildren(message("info", `Downloaded ${institution}'s statement for cycle ${id}.`));
  }
}

async function paymentView(paymentId) {
  const key = V.stateKey("payments", `payment/${paymentId}`);
  let answer;
  try {
    answer = await api(`/v1/payments/payments/${encodeURIComponent(paymentId)}`);
  } catch (error) {
    return [section(`Payment ${paymentId}`, problem(error, `payment ${paymentId}`))];
  }
  const check = await checked(() => V.verifyStateAnswer(trust, answer.proof, key));
  const payment = check.ok ? record("Payment", V.decode(check.result.value)) : null;
  const authorization = payment ? record("Authorization", payment.authorization) : null;
  return [section(`Payment ${paymentId}`, el("p", {}, "Payment record: ", check.mark), payment ? fields([
    ["status", payment.status],
    ["amount (minor)", authorization.amount_minor],
    ["currency", authorization.currency],
    ["issuer", authorization.issuer],
    ["acquirer", authorization.acquirer],
    ["merchant", authorization.merchant_id],
    ["card type", authorization.card_type],
    ["authorized at height", payment.authorized_height],
    ["captured", payment.capture ? show(payment.capture) : "—"],
    ["refunded (minor)", payment.refunded_minor],
  ]) : null, watchButton("payment", paymentId))];
}

// Answers made of several state reads (supply chain, credit): every state proof in the answer is
// checked and its entry shown from the proven bytes (key, decoded value); the node's JSON summary
// is shown apart, labelled as the node's.
function keyText(key) {
  return Array.from(key, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
}

async function provenEntries(name, answer) {
  const proofs = [];
  collectProofs(answer, proofs);
  const rows = [];
  for (const proofHex of proofs) {
    let key = "—";
    const check = await checked(async () => {
      const proof = V.decodeStateReadProof(V.hexToBytes(proofHex));
      key = keyText(proof.key);
      return V.verifyStateAnswer(trust, proofHex, proof.key);
    });
    const value = check.ok ? (check.result.value === null ? "(absent, proven)" : decodedArguments(check.result.value)) : "—";
    rows.push([key, value, check.ok ? check.result.header.height : "—", check.mark]);
  }
  if (rows.length === 0) return message("error", "The answer carries no proof: nothing here is verified.");
  return table(name, ["state key", "proven value", "height", "proof"], rows);
}

function collectProofs(value, out) {
  if (Array.isArray(value)) value.forEach((v) => collectProofs(v, out));
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "proof" && typeof item === "string") out.push(item);
      else collectProofs(item, out);
    }
  }
}

function nodeSummary(answer) {
  return el("details", {}, el("summary", {}, "The node's JSON (unproven view)"), el("pre", { class: "json", tabindex: "0" }, JSON.stringify(answer, (k, v) => (k === "proof" ? "…" : v), 1)));
}

async function provenAnswerView(title, path, what, name, extra = []) {
  let answer;
  try {
    answer = await api(path);
  } catch (error) {
    return [section(title, problem(error, what))];
  }
  return [section(title, el("p", {}, "Every entry below is decoded from a state proof checked in this page."), await provenEntries(name, answer), nodeSummary(answer), ...extra)];
}

async function itemView(id) {
  const query = encodeURIComponent(id);
  return [
    ...(await provenAnswerView(`Item ${id}`, `/v1/supplychain/items?id=${query}`, `item ${id}`, "item", [watchButton("item", id)])),
    ...(await provenAnswerView("Trace (events, oldest first)", `/v1/supplychain/history?id=${query}&limit=100`, `the history of item ${id}`, "trace")),
  ];
}

async function receivableView(id) {
  const parts = await provenAnswerView(`Receivable ${id}`, `/v1/supplychain/receivables/${id}`, `receivable ${id}`, "receivable");
  const lineage = [];
  const check = await checked(async () => {
    let next = BigInt(id);
    for (let depth = 0; depth < MAX_LINEAGE; depth++) {
      const answer = await api(`/v1/supplychain/receivables/${next}`);
      const proof = V.decodeStateReadProof(V.hexToBytes(answer.proof));
      const proven = await V.verifyStateAnswer(trust, answer.proof, proof.key);
      const part = record("Receivable", V.decode(proven.value));
      if (part.id !== next) throw new V.VerificationError(`the node answered part ${part.id} for part ${next}`);
      lineage.push(part);
      if (part.id === part.root_id || part.parent_id === part.id) break;
      next = part.parent_id;
    }
    return lineage;
  });
  if (lineage.length === 0 && !check.ok) return parts;
  parts.push(section("Lineage (this part up to its root)", el("p", {}, "Each part's record: ", check.mark), table("lineage", ["part", "parent", "holder", "face value (minor)", "status"], lineage.map((part) => [
    link(`#/receivable/${part.id}`, String(part.id)),
    part.id === part.root_id ? link(`#/root/${part.root_id}`, `root ${part.root_id}`) : link(`#/receivable/${part.parent_id}`, String(part.parent_id)),
    part.holder,
    part.face_value_minor,
    part.status,
  ]))));
  return parts;
}

async function rootView(id) {
  return provenAnswerView(`Root receivable ${id}`, `/v1/supplychain/roots/${id}`, `root receivable ${id}`, "root");
}

async function accessLogView(subject) {
  return provenAnswerView(`Credit access log of ${short(subject)}`, `/v1/credit/subjects/${subject}/access-log?limit=100`, `the credit access log of ${subject}`, "access-log");
}

// ---------------------------------------------------------------------------------------------
// Search: height, block hash, transaction id, address, payment id, GS1 identifier

export function classify(text) {
  const query = text.trim();
  if (query.length === 0) return { error: "Type a block height, block hash, transaction id, address, payment id or GS1 identifier." };
  if (query.length > MAX_SEARCH_LENGTH) return { error: `A search is at most ${MAX_SEARCH_LENGTH} characters.` };
  if (/^[0-9]{1,19}$/.test(query) && BigInt(query) >= 1n) return { kind: "height", value: query };
  if (/^[0-9a-fA-F]{64}$/.test(query)) return { kind: "hash", value: query.toLowerCase() };
  if (/^[0-9a-fA-F]{40}$/.test(query)) return { kind: "address", value: query.toLowerCase() };
  if (/^urn:epc:id:[a-z]+:[0-9A-Za-z.*:-]+$/.test(query) || /^https?:\/\/[^ ]+\/01\/[0-9]{14}/.test(query) || /^\(01\)[0-9]{14}/.test(query)) return { kind: "item", value: query };
  const receivable = query.match(/^(receivable|root)[ :#]?([0-9]{1,19})$/i);
  if (receivable) return { kind: receivable[1].toLowerCase(), value: receivable[2] };
  if (/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(query)) return { kind: "payment", value: query };
  return { error: `“${query.slice(0, 80)}” is not a block height, a hash (64 hex digits), an address (40 hex digits), a payment id, “receivable N”, “root N” or a GS1 identifier.` };
}

async function searchView(text) {
  const found = classify(text);
  if (found.error) return [section("Search", message("error", found.error))];
  if (found.kind === "height") return blockView(found.value);
  if (found.kind === "address") return accountView(found.value);
  if (found.kind === "item") return itemView(found.value);
  if (found.kind === "payment") return paymentView(found.value);
  if (found.kind === "receivable") return receivableView(found.value);
  if (found.kind === "root") return rootView(found.value);
  try {
    await api(`/v1/transactions/${found.value}`);
    location.hash = `#/tx/${found.value}`;
    return [];
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  try {
    await api(`/v1/blocks/by-hash/${found.value}`);
    location.hash = `#/block/${found.value}`;
    return [];
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  return [section("Search", message("notfound", `Not found: no transaction or block with hash ${found.value}.`), el("p", {}, "A credit subject? ", link(`#/credit/${found.value}`, "its access log")))];
}

// ---------------------------------------------------------------------------------------------
// Watchlist: accounts, payments and items; their new events arrive live (SSE)

function watched() {
  try {
    const list = JSON.parse(localStorage.getItem(WATCH_STORAGE) || "[]");
    return Array.isArray(list) ? list.slice(0, MAX_WATCHED) : [];
  } catch {
    return [];
  }
}

function setWatched(list) {
  localStorage.setItem(WATCH_STORAGE, JSON.stringify(list.slice(0, MAX_WATCHED)));
}

function watchButton(kind, id) {
  const isWatched = () => watched().some((w) => w.kind === kind && w.id === id);
  const button = el("button", { type: "button", class: "watch", "aria-pressed": String(isWatched()) });
  const label = () => (button.textContent = isWatched() ? `Stop watching this ${kind}` : `Watch this ${kind}`);
  button.addEventListener("click", () => {
    const list = watched().filter((w) => !(w.kind === kind && w.id === id));
    if (!isWatched()) list.push({ kind, id });
    setWatched(list);
    button.setAttribute("aria-pressed", String(isWatched()));
    label();
  });
  label();
  return button;
}

function matchesWatch(event, list) {
  const values = Object.values(event.attributes).map((v) => String(v));
  return list.filter((w) => values.includes(w.id));
}

async function watchView() {
  const list = watched();
  const rows = list.map((w) => [w.kind, w.kind === "account" ? link(`#/account/${w.id}`, w.id) : w.kind === "payment" ? link(`#/payment/${encodeURIComponent(w.id)}`, w.id) : w.id]);
  const events = feed.filter((e) => matchesWatch(e, list).length > 0);
  return [
    section("Watched", list.length ? table("watchlist", ["kind", "id"], rows) : message("info", "Nothing watched yet: open an account, payment or item and press “Watch”.")),
    section("New events of what you watch", el("div", { id: "watch-events" }, eventsTable("watched-events", events))),
  ];
}

function eventsTable(name, events) {
  return table(name, ["height", "transaction", "contract", "event", "attributes"], events.map((e) => [
    link(`#/block/${e.height}`, String(e.height)),
    link(`#/tx/${e.transaction_hash}`, short(e.transaction_hash)),
    e.contract,
    e.name,
    Object.entries(e.attributes).map(([k, v]) => `${k}=${v}`).join(" "),
  ]));
}

function liveFeed() {
  return el("div", { id: "live-events" }, feed.length ? eventsTable("events", feed.slice(-20).reverse()) : message("info", "Waiting for new events…"));
}

function listen() {
  const source = new EventSource("/v1/events");
  source.addEventListener("event", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    feed.push(event);
    if (feed.length > MAX_FEED) feed.shift();
    const live = document.getElementById("live-events");
    if (live) live.replaceWith(liveFeed());
    const mine = document.getElementById("watch-events");
    if (mine) mine.replaceChildren(eventsTable("watched-events", feed.filter((e) => matchesWatch(e, watched()).length > 0)));
    const height = document.querySelector("[data-field=height]");
    if (height && Number(height.textContent) < event.height) height.textContent = String(event.height);
  });
}

// ---------------------------------------------------------------------------------------------
// Routing

const ROUTES = [
  [/^#?\/?$/, () => overview()],
  [/^#\/blocks$/, () => blocksView()],
  [/^#\/block\/([0-9]{1,19}|[0-9a-f]{64})$/, (m) => blockView(m[1])],
  [/^#\/tx\/([0-9a-f]{64})$/, (m) => transactionView(m[1])],
  [/^#\/account\/([0-9a-f]{40})$/, (m) => accountView(m[1])],
  [/^#\/token$/, () => tokenView()],
  [/^#\/governance$/, () => governanceView()],
  [/^#\/payments$/, () => cyclesView()],
  [/^#\/cycle\/([0-9]{1,19})$/, (m) => cycleView(BigInt(m[1]))],
  [/^#\/payment\/(.{1,200})$/, (m) => paymentView(decodeURIComponent(m[1]))],
  [/^#\/item\/(.{1,200})$/, (m) => itemView(decodeURIComponent(m[1]))],
  [/^#\/receivable\/([0-9]{1,19})$/, (m) => receivableView(m[1])],
  [/^#\/root\/([0-9]{1,19})$/, (m) => rootView(m[1])],
  [/^#\/credit\/([0-9a-f]{64})$/, (m) => accessLogView(m[1])],
  [/^#\/watch$/, () => watchView()],
  [/^#\/search\/(.{0,400})$/, (m) => searchView(decodeURIComponent(m[1]))],
];

async function route() {
  const token = ++renderToken;
  const hash = location.hash || "#/";
  view.setAttribute("aria-busy", "true");
  let parts;
  try {
    const found = ROUTES.map(([pattern, handler]) => [hash.match(pattern), handler]).find(([m]) => m);
    parts = found ? await found[1](found[0]) : [section("Not found", message("notfound", `Not found: this explorer has no page ${hash.slice(0, 80)}.`))];
  } catch (error) {
    parts = [section("Error", problem(error, "this page"))];
  }
  if (token !== renderToken) return; // a newer navigation won
  view.replaceChildren(...parts);
  view.setAttribute("aria-busy", "false");
  view.dataset.rendered = hash; // what the tests wait for
  document.body.dataset.view = hash.split("/")[1] || "overview";
  const heading = view.querySelector("h2");
  if (heading) heading.setAttribute("tabindex", "-1");
}

async function start() {
  const genesisText = await (await fetch("/v1/genesis")).text();
  trust = await V.trustFromGenesis(genesisText);
  trust.fetchChanges = async (from) => (await api(`/v1/validators/changes?from_height=${from}`)).changes;
  document.getElementById("genesis-hash").textContent = V.bytesToHex(trust.genesisHash);
  document.getElementById("chain-id").textContent = trust.chainId;
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("search-text").value;
    location.hash = `#/search/${encodeURIComponent(text.slice(0, MAX_SEARCH_LENGTH + 1))}`;
  });
  window.addEventListener("hashchange", route);
  listen();
  document.body.dataset.ready = "yes";
  document.getElementById("boot").hidden = true;
  await route();
}

start().catch((error) => {
  document.getElementById("boot").textContent = `The explorer could not start: ${error.message}`;
});
