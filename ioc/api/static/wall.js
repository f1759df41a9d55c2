// The wall page: live over /ws/live, reconnecting with backoff, grey when data is stale or the
// server has lost its database (it says so, then comes back by itself with a fresh snapshot).
// All data is written with textContent (never innerHTML), so labels are shown as text.
"use strict";

const I18N = {
  vi: {
    title: "Trung tâm Giám sát, điều hành thông minh",
    connecting: "Đang kết nối…", live: "Trực tuyến", stale: "Mất kết nối — dữ liệu cũ",
    offline: "Mất kết nối", notoken: "Thiếu mã truy cập (#token=...)",
    dbdown: "Mất kết nối cơ sở dữ liệu",
    "sys.portal": "Cổng dịch vụ công", "sys.payments": "Thanh toán trực tuyến",
    "sys.documents": "Quản lý văn bản",
    "state.up": "Hoạt động tốt", "state.degraded": "Suy giảm", "state.down": "Gián đoạn",
    "state.nodata": "Không có dữ liệu",
    latency: "Độ trễ", availability: "Khả dụng hôm nay", freshness: "Cập nhật",
    alerts: "Cảnh báo đang mở", no_alerts: "Không có cảnh báo", nodata: "Không có dữ liệu",
    kpis: "Chỉ tiêu hôm nay (QĐ 766)", target: "Mục tiêu", acked: "Đã xác nhận: ", muted: "Bị ẩn bởi: ",
    ago_s: " giây trước", ago_m: " phút trước", ago_h: " giờ trước", updated: "Cập nhật lúc ",
    "sev.critical": "Nghiêm trọng", "sev.warning": "Cảnh báo", "sev.info": "Thông tin",
    "unit.working_days": "ngày làm việc", "unit.days": "ngày", "unit.VND": "₫",
    "unit.ms": "ms", "unit.per_hour": "/giờ", last_days: " ngày qua",
  },
  en: {
    title: "Smart Operations Centre",
    connecting: "Connecting…", live: "Live", stale: "Connection lost — stale data",
    offline: "Offline", notoken: "No access token (#token=...)",
    dbdown: "Database unreachable",
    "sys.portal": "Public-service portal", "sys.payments": "Online payments",
    "sys.documents": "Document management",
    "state.up": "Healthy", "state.degraded": "Degraded", "state.down": "Down",
    "state.nodata": "No data",
    latency: "Latency", availability: "Availability today", freshness: "Updated",
    alerts: "Open alerts", no_alerts: "No alerts", nodata: "No data",
    kpis: "Today's indicators (Decision 766)", target: "Target", acked: "Acked: ", muted: "Muted by: ",
    ago_s: "s ago", ago_m: " min ago", ago_h: " h ago", updated: "Updated at ",
    "sev.critical": "Critical", "sev.warning": "Warning", "sev.info": "Info",
    "unit.working_days": "working days", "unit.days": "days", "unit.VND": "VND",
    "unit.ms": "ms", "unit.per_hour": "/h", last_days: " days",
  },
};

const params = new URLSearchParams(location.search);
const LANG = params.get("lang") === "en" ? "en" : "vi";
const T = (key) => I18N[LANG][key] ?? key;
const LOCALE = LANG === "en" ? "en-GB" : "vi-VN";
const view = {
  systems: {}, alerts: [], kpis: [], availability: {}, offset: 0, lastAt: 0,
  heartbeatS: 15, live: false, dbDown: false,
  timezone: "Asia/Ho_Chi_Minh",  // until the server says which province's clock to show
};

function takeToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromUrl = hash.get("token") || params.get("token");
  if (fromUrl) {
    try { localStorage.setItem("ioc.token", fromUrl); } catch (e) { /* private mode */ }
    params.delete("token");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
    return fromUrl;
  }
  try { return localStorage.getItem("ioc.token"); } catch (e) { return null; }
}

function text(el, value) { if (el) el.textContent = value == null ? "" : String(value); }
function $(sel, root) { return (root || document).querySelector(sel); }
function serverNow() { return Date.now() + view.offset; }
function fmtNumber(v, digits) {
  return new Intl.NumberFormat(LOCALE, { maximumFractionDigits: digits }).format(v);
}
function fmtPercent(v) { return v == null ? "—" : fmtNumber(v * 100, 2) + "%"; }
// Times of day on the province's clock, whatever the kiosk machine's time zone.
const timeFormats = {};
function fmtTime(ms) {
  const zone = view.timezone;
  if (!timeFormats[zone]) {
    const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    try {
      timeFormats[zone] = new Intl.DateTimeFormat(LOCALE, { ...opts, timeZone: zone });
    } catch (e) {  // an unknown zone: the machine's, rather than no clock at all
      timeFormats[zone] = new Intl.DateTimeFormat(LOCALE, opts);
    }
  }
  return timeFormats[zone].format(ms);
}
function fmtAge(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
  if (s < 120) return s + T("ago_s");
  if (s < 7200) return Math.round(s / 60) + T("ago_m");
  return Math.round(s / 3600) + T("ago_h");
}

const SYSTEMS = ["portal", "payments", "documents"];

function buildSystems() {
  const section = $("#systems");
  const tpl = $("#system-card");
  for (const name of SYSTEMS) {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.dataset.system = name;
    $(".name", card).dataset.i18n = "sys." + name;
    section.appendChild(card);
  }
}

function applyLanguage() {
  document.documentElement.lang = LANG;
  document.querySelectorAll("[data-i18n]").forEach((el) => text(el, T(el.dataset.i18n)));
}

function effectiveState(sys) {
  if (!view.live || view.dbDown || !sys) return "nodata";
  if (sys.state !== "nodata" && sys.stale_at && serverNow() >= Date.parse(sys.stale_at)) {
    return "nodata";
  }
  return sys.state;
}

function renderSystems() {
  document.querySelectorAll(".system").forEach((card) => {
    const sys = view.systems[card.dataset.system];
    const state = effectiveState(sys);
    card.dataset.state = state;
    text($(".state", card), T("state." + state));
    const fresh = state !== "nodata";
    text($(".latency", card), fresh && sys.latency_ms != null
      ? fmtNumber(sys.latency_ms, 0) + " ms" : "—");
    text($(".availability", card), fmtPercent(view.availability[card.dataset.system]));
    text($(".freshness", card), sys ? fmtAge(sys.checked_at) : "—");
  });
}

function alertLabel(a) {
  const ann = a.annotations || {};
  const labels = a.labels || {};
  return ann["summary_" + LANG] || ann.summary || ann.title || labels.alertname || a.rule_id;
}

function renderAlerts() {
  const list = $("#alerts");
  const tpl = $("#alert-row");
  list.replaceChildren();
  for (const a of view.alerts) {
    const row = tpl.content.firstElementChild.cloneNode(true);
    row.dataset.severity = a.severity;
    row.dataset.acked = a.acked_at ? "true" : "false";
    text($(".sev", row), "");
    $(".sev", row).title = T("sev." + a.severity);
    text($(".label", row), alertLabel(a));
    text($(".sys", row), (a.labels || {}).system ? T("sys." + a.labels.system) : "");
    text($(".age", row), fmtAge(a.firing_at || a.started_at));
    text($(".ack", row), a.acked_by ? T("acked") + a.acked_by : "");
    row.dataset.muted = a.inhibited_by ? "true" : "false";
    text($(".muted", row), a.inhibited_by ? T("muted") + (a.muted_by || a.inhibited_by) : "");
    list.appendChild(row);
  }
  const count = $("#alert-count");
  text(count, view.alerts.length);
  count.dataset.zero = view.alerts.length === 0 ? "true" : "false";
  $("#alerts-empty").hidden = view.alerts.length > 0;
}

function kpiValue(k) {
  // A count is 0 when nothing happened (the server sends 0); null is a rate without a
  // denominator (nothing to divide), shown as a dash.
  if (k.value == null) return "—";
  const unit = k.unit || "";
  if (unit === "ratio") return fmtPercent(k.value);
  if (unit === "count") return fmtNumber(k.value, 0);
  const label = T("unit." + unit);
  return fmtNumber(k.value, 2) + " " + (label === "unit." + unit ? unit : label);
}

function renderKpis() {
  const list = $("#kpis");
  const tpl = $("#kpi-tile");
  list.replaceChildren();
  for (const k of view.kpis) {
    const tile = tpl.content.firstElementChild.cloneNode(true);
    const target = k.target ?? k.threshold;
    let met = k.value == null ? "unknown" : "none";
    if (k.value != null && target != null) {
      met = String(k.higher_is_better === false ? k.value <= target : k.value >= target);
    }
    tile.dataset.met = met;
    tile.dataset.kpi = k.id;
    const name = (LANG === "en" ? k.name_en : k.name_vi) || k.id;
    text($(".kname", tile), k.window_days ? name + " (" + k.window_days + T("last_days") + ")"
      : name);
    text($(".kvalue", tile), kpiValue(k));
    text($(".ktarget", tile), target != null
      ? T("target") + ": " + kpiValue({ ...k, value: target }) : "");
    list.appendChild(tile);
  }
  $("#kpis-empty").hidden = view.kpis.length > 0;
}

function setConn(state) {
  $("#conn").dataset.state = state;
  text($("#conn-text"), T(state));
  document.body.dataset.db = view.dbDown ? "down" : "up";
}

function handle(msg) {
  if (msg.timezone) view.timezone = msg.timezone;
  if (msg.at) {
    view.offset = Date.parse(msg.at) - Date.now();
    text($("#updated"), T("updated") + fmtTime(Date.parse(msg.at)));
  }
  view.lastAt = Date.now();
  if (msg.type === "database" && msg.state === "down") {
    view.dbDown = true;  // until a snapshot arrives: the server sends one once it is back
    setConn("dbdown");
  } else if (msg.type === "snapshot") {
    view.dbDown = false;
    view.heartbeatS = msg.heartbeat_s || 15;
    view.systems = {};
    for (const s of msg.systems || []) view.systems[s.system] = s;
    view.alerts = msg.alerts || [];
    view.kpis = msg.kpis || [];
    view.availability = msg.availability || {};
  } else if (msg.type === "status") {
    view.systems[msg.system.system] = msg.system;
  } else if (msg.type === "alerts") {
    view.alerts = msg.alerts || [];
  } else if (msg.type === "kpis") {
    view.kpis = msg.kpis || [];
    view.availability = msg.availability || view.availability;
  }
  render();
}

function render() { renderSystems(); renderAlerts(); renderKpis(); }

let backoff = 1000;
function connect(token) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws/live", ["ioc.v1", "bearer." + token]);
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.type === "snapshot") { view.live = true; backoff = 1000; }
    handle(msg);
    if (msg.type === "snapshot") setConn("live");
  };
  ws.onclose = (ev) => {
    view.live = false;
    // 1013 after a "database down" message: the server is there, its database is not; keep
    // saying so and retry every couple of seconds (cheap: no database work), to be live again
    // soon after it returns.
    const dbDown = view.dbDown && ev.code === 1013;
    view.dbDown = dbDown;
    setConn(dbDown ? "dbdown" : "offline");
    render();
    const wait = (dbDown ? 2000 : backoff) * (0.75 + Math.random() * 0.5);
    if (!dbDown) backoff = Math.min(backoff * 2, 30000);
    setTimeout(() => connect(token), wait);
  };
  view.socket = ws;
}

function tick() {
  text($("#clock"), fmtTime(serverNow()));
  // No message, not even a heartbeat, for 2.5 heartbeats: the data cannot be trusted.
  if (view.live && Date.now() - view.lastAt > view.heartbeatS * 2500) {
    view.live = false;
    setConn("stale");
    if (view.socket) view.socket.close();
  }
  renderSystems();
  document.querySelectorAll("#alerts .alert").forEach((row, i) => {
    const a = view.alerts[i];
    if (a) text($(".age", row), fmtAge(a.firing_at || a.started_at));
  });
}

function start() {
  buildSystems();
  applyLanguage();
  const token = takeToken();
  if (!token) { setConn("notoken"); render(); return; }
  render();
  connect(token);
  setInterval(tick, 1000);
  tick();
}

document.addEventListener("DOMContentLoaded", start);
