// The Lifeboat console's page: polls /console/api/state and draws it. Plain DOM, no
// framework, no request to anywhere but this server. Charts arrive as inline SVG made by
// the server (the drill report's chart code); every other text is escaped here.

const $ = (id) => document.getElementById(id);
const esc = (v) =>
  v === undefined || v === null ? '-' : String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function secs(s) {
  if (s === undefined || s === null) return '-';
  const a = Math.abs(s);
  if (a < 100) return `${Math.round(s * 10) / 10} s`;
  if (a < 5400) return `${(s / 60).toFixed(1)} min`;
  if (a < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
const ms = (m) => (m === undefined || m === null ? '-' : secs(m / 1000));
function bytes(n) {
  if (n === undefined || n === null) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}
const time = (iso) =>
  iso
    ? iso
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
        .replace('Z', ' UTC')
    : '-';
const pill = (cls, text) => `<span class="pill ${esc(cls)}">${esc(text)}</span>`;

const VERDICT = {
  pass: 'proven restorable',
  fail: 'failing',
  'over-target': 'over target',
  stale: 'stale',
  none: 'never drilled',
  error: 'could not run',
  running: 'running',
  'timed-out': 'timed out',
};
const ACTION_TEXT = {
  snapshot: ['Snapshot now', 'Ask the primary to take a snapshot now (its pre/post hooks run).'],
  drill: ['Drill now', 'Start a restore drill: a fresh task restores the newest snapshot and runs its checks.'],
  'kill-primary': ['Kill primary', 'SIGKILL the primary task, like a crash. A replica takes over after the failover timeout.'],
  'damage-snapshot': ['Damage snapshot', 'Flip one byte of the newest snapshot in the store, as bit rot would. Only a drill can find out.'],
};

let state;
let busy = false;

function primaryCard(s) {
  if (!s.primary)
    return `<div class="card"><h3>Primary</h3><p class="big" data-test="primary">none</p><p class="muted">no primary elected; a replica takes over within the failover timeout (${secs(s.failoverTimeoutSeconds)})</p></div>`;
  const p = s.primary;
  return `<div class="card"><h3>Primary</h3><p class="big"><code data-test="primary">${esc(p.taskId.slice(0, 12))}</code> ${pill('primary', `term ${p.term}`)}</p>
<p class="muted">elected ${esc(time(p.electedAt))} · lease ${p.expiresInMs === undefined ? '-' : p.expiresInMs >= 0 ? `valid ${ms(p.expiresInMs)} more` : `expired ${ms(-p.expiresInMs)} ago`} · failover after ${secs(s.failoverTimeoutSeconds)}</p></div>`;
}

function membersCard(s) {
  const rows = s.members
    .map(
      (m) =>
        `<tr data-test="member"><td><code>${esc(m.taskId.slice(0, 12))}</code></td><td>${pill(m.role, m.role)}</td><td>${esc(m.lastStatus)}</td><td class="num">${ms(m.heartbeatAgeMs)} ago</td><td class="num">${esc(m.dataPosition)}</td>${state.mode === 'local' ? `<td class="num">${esc(m.port)}</td>` : ''}<td class="date">${esc(time(m.startedAt))}</td></tr>`,
    )
    .join('');
  return `<div class="card"><h3>Members (${s.members.length})</h3><table><thead><tr><th>Task</th><th>Role</th><th>ECS</th><th>Heartbeat</th><th>Data pos.</th>${state.mode === 'local' ? '<th>Port</th>' : ''}<th>Started</th></tr></thead><tbody>${rows || '<tr><td colspan="7" class="muted">no members</td></tr>'}</tbody></table></div>`;
}

function timelineCard(s) {
  const items = [...s.timeline]
    .reverse()
    .map(
      (t) =>
        `<li class="${t.current ? 'current' : ''}" data-test="term"><strong>term ${t.term}</strong> · task <code>${esc(t.taskId.slice(0, 12))}</code>${t.electedAt ? ` · elected ${esc(time(t.electedAt))}` : ''}${t.current ? ` ${pill('ok', 'current')}` : ''}<br><span class="muted">${esc(t.cause)}</span>${t.ended ? `<br><span class="reasons">ended: ${esc(t.ended)}${t.endedAt ? ` at ${esc(time(t.endedAt))}` : ''}</span>` : ''}</li>`,
    )
    .join('');
  return `<div class="card"><h3>Failover timeline</h3><ul class="timeline">${items || '<li class="muted">no election yet</li>'}</ul></div>`;
}

function drillsCard(s) {
  const d = s.drills;
  const rows = d.rows
    .map(
      (r) =>
        `<tr data-test="drill-row"><td><code>${esc(r.drillId)}</code></td><td>${pill(`v-${r.verdict}`, VERDICT[r.verdict] || r.verdict)}${r.kept ? ` ${pill('warn', 'kept')}` : ''}</td><td class="date">${esc(time(r.createdAt))}</td><td>${esc(r.trigger)}</td><td class="num">${secs(r.restoreSeconds)}</td><td class="num">${secs(r.rtoSeconds)}</td><td class="num">${secs(r.rpoSeconds)}</td><td>${esc(r.reason)}${r.kept ? `<br><span class="reasons" data-test="kept">${keptText(r.kept)}</span>` : ''}</td></tr>`,
    )
    .join('');
  return `<div class="card wide" data-test="drills"><h3>Restore drills ${pill(`v-${d.verdict}`, VERDICT[d.verdict] || d.verdict)} <span class="muted">${esc(d.reason)}</span></h3>
<div class="charts">${d.charts.rto}${d.charts.rpo}</div>
<div class="scroll"><table><thead><tr><th>Drill</th><th>Result</th><th>Started</th><th>Trigger</th><th>Restore</th><th>RTO</th><th>RPO</th><th>Reason</th></tr></thead><tbody>${rows || '<tr><td colspan="8" class="muted">no drills yet</td></tr>'}</tbody></table></div></div>`;
}

function snapshotsCard(s) {
  const sn = s.snapshots;
  const rpo = s.targets.rpoSeconds;
  const head = sn.newest
    ? `newest ${secs(sn.newest.ageSeconds)} old${rpo !== null ? ` ${sn.rpoMet ? pill('ok', `within RPO ${secs(rpo)}`) : pill('bad', `over RPO ${secs(rpo)}`)}` : ''}`
    : pill('bad', 'no complete snapshot');
  const ret = sn.retention
    ? ` · retention <code>${esc(sn.retention.policy)}</code> (${esc(sn.retention.timezone)}): keep ${sn.retention.keep}, delete ${sn.retention.delete}`
    : '';
  const rows = sn.rows
    .map((r) => {
      const over = rpo !== null && r.ageSeconds > rpo;
      const retention = r.retention
        ? `${pill(r.retention.action, r.retention.action)} <span class="reasons">${esc(r.retention.reasons.join('; '))}</span>`
        : r.status === 'complete'
          ? '-'
          : '';
      return `<tr data-test="snapshot-row"><td><code>${esc(r.id)}</code></td><td>${esc(r.status)}</td><td class="date">${esc(time(r.createdAt))}</td><td class="num">${over ? `<span class="errors">${secs(r.ageSeconds)}</span>` : secs(r.ageSeconds)}</td><td class="num">${bytes(r.size)}</td><td class="num">${esc(r.fileCount)}</td><td class="num">${esc(r.term)}</td><td>${r.verifiedAt ? pill('ok', 'verified') : '-'}</td><td>${retention}</td><td>${esc(r.reason)}</td></tr>`;
    })
    .join('');
  return `<div class="card wide" data-test="snapshots"><h3>Snapshots: ${sn.complete} complete of ${sn.total} · ${head}${ret}</h3>
<div class="scroll"><table><thead><tr><th>Id</th><th>Status</th><th>Created</th><th>Age</th><th>Stored</th><th>Files</th><th>Term</th><th>Verified</th><th>Retention</th><th>Reason</th></tr></thead><tbody>${rows || '<tr><td colspan="10" class="muted">no snapshots</td></tr>'}</tbody></table></div>
${sn.rows.length < sn.total ? `<p class="muted">showing the newest ${sn.rows.length} of ${sn.total}</p>` : ''}</div>`;
}

function schedulesCard(s) {
  const rows = s.schedules
    .map(
      (x) =>
        `<tr data-test="schedule"><td>${esc(x.name)}</td><td><code>${esc(x.expression)}</code></td><td>${esc(x.timezone)}</td><td class="nowrap">${x.next.map((n) => esc(time(n))).join('<br>') || '-'}${x.approximate ? ' <span class="reasons">(rate: phase depends on creation)</span>' : ''}</td><td class="date">${esc(time(x.lastAt))}</td></tr>`,
    )
    .join('');
  return `<div class="card wide" data-test="schedules"><h3>Schedules</h3><table><thead><tr><th>Schedule</th><th>Expression</th><th>Zone</th><th>Next firings</th><th>Last</th></tr></thead><tbody>${rows || '<tr><td colspan="5" class="muted">none: on demand only</td></tr>'}</tbody></table></div>`;
}

function actionsBar(s) {
  if (!state.allowActions || state.actions.length === 0) return '';
  return `<div class="actions">${state.actions.map((a) => `<button data-action="${esc(a)}" data-service="${esc(s.service)}"${a === 'kill-primary' || a === 'damage-snapshot' ? ' class="danger"' : ''}>${esc(ACTION_TEXT[a] ? ACTION_TEXT[a][0] : a)}</button>`).join('')}</div>`;
}

function activityCard() {
  if (!state.activity) return '';
  const rows = [...state.activity]
    .reverse()
    .map((a) => `<tr><td class="date">${esc(time(a.at))}</td><td>${esc(a.kind)}</td><td>${esc(a.text)}</td></tr>`)
    .join('');
  return `<div class="card wide"><h3>Activity</h3><div class="scroll"><table><tbody>${rows}</tbody></table></div></div>`;
}

function render() {
  $('source').textContent = `${state.mode === 'local' ? 'local mode' : 'deployed'} · ${state.label}`;
  const access = $('access');
  access.textContent = state.allowActions ? 'actions enabled' : 'read-only';
  access.className = `pill ${state.allowActions ? 'warn' : ''}`;
  $('updated').textContent = `updated ${new Date(state.generatedAt).toLocaleTimeString()}`;
  // Each service's section is made once and then updated in place: buttons stay the same
  // elements (a click is never lost to a refresh), and unchanged parts are not touched.
  const app = $('app');
  $('loading')?.remove();
  const errors = state.errors.map((e) => `<p class="errors">${esc(e.service)}: ${esc(e.error)}</p>`).join('');
  const empty = state.services.length === 0 && state.errors.length === 0 ? '<p class="muted">No protected services in this table yet.</p>' : '';
  setHtml(part(app, 'notes', 'div'), errors + empty);
  for (const s of state.services) {
    let section = app.querySelector(`section[data-service="${CSS.escape(s.service)}"]`);
    if (!section) {
      section = document.createElement('section');
      section.dataset.service = s.service;
      section.innerHTML = `<h2></h2>${actionsBar(s)}<div class="cards"></div>`;
      app.insertBefore(section, part(app, 'activity', 'div'));
    }
    setHtml(
      section.querySelector('h2'),
      `${esc(s.service)} ${pill(`v-${s.drills.verdict}`, VERDICT[s.drills.verdict] || s.drills.verdict)}
<span class="muted">RPO target ${secs(s.targets.rpoSeconds)} · RTO target ${secs(s.targets.rtoSeconds)}</span>`,
    );
    setHtml(section.querySelector('.cards'), primaryCard(s) + membersCard(s) + timelineCard(s) + schedulesCard(s) + drillsCard(s) + snapshotsCard(s));
  }
  for (const section of app.querySelectorAll('section[data-service]')) {
    if (!state.services.some((s) => s.service === section.dataset.service)) section.remove();
  }
  setHtml(part(app, 'activity', 'div'), activityCard());
}

/** A named child of `parent`, made on first use. */
function part(parent, name, tag) {
  let el = parent.querySelector(`:scope > [data-part="${name}"]`);
  if (!el) {
    el = document.createElement(tag);
    el.dataset.part = name;
    parent.appendChild(el);
  }
  return el;
}

const shown = new WeakMap();
function setHtml(el, html) {
  if (shown.get(el) !== html) {
    el.innerHTML = html;
    shown.set(el, html);
  }
}

function keptText(k) {
  const task = k.taskArn ? ` (task <code>${esc(k.taskArn.split('/').pop().slice(0, 12))}</code>${k.port !== undefined ? `, port ${esc(k.port)}` : ''})` : '';
  return k.stoppedAt ? `task kept for inspection, stopped ${esc(time(k.stoppedAt))}` : `task kept for inspection until ${esc(time(k.until))}${task}`;
}

function toast(text, error) {
  const div = document.createElement('div');
  div.textContent = text;
  if (error) div.className = 'error';
  $('toast').appendChild(div);
  setTimeout(() => div.remove(), 8000);
}

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const res = await fetch('/console/api/state', { cache: 'no-store' });
    if (!res.ok) throw new Error(`state: HTTP ${res.status} ${(await res.json().catch(() => ({}))).error || ''}`);
    state = await res.json();
    render();
  } catch (err) {
    $('updated').textContent = `update failed: ${err.message}`;
  } finally {
    busy = false;
    setTimeout(refresh, state ? state.pollMs : 2000);
  }
}

function confirmAction(action, service) {
  const dialog = $('confirm');
  const [title, text] = ACTION_TEXT[action] || [action, ''];
  $('confirm-title').textContent = `${title}?`;
  $('confirm-text').textContent = text;
  $('confirm-service').textContent = service;
  dialog.returnValue = '';
  dialog.showModal();
  dialog.addEventListener(
    'close',
    async () => {
      if (dialog.returnValue !== 'ok') return;
      try {
        const res = await fetch(`/console/api/actions/${encodeURIComponent(action)}?service=${encodeURIComponent(service)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ confirm: service }),
        });
        const body = await res.json();
        if (!res.ok) throw new Error(body.error + (body.hint ? ` (${body.hint})` : ''));
        toast(body.message);
      } catch (err) {
        toast(`${title} failed: ${err.message}`, true);
      }
    },
    { once: true },
  );
}

$('confirm-ok').addEventListener('click', () => $('confirm').close('ok'));
$('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));

document.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-action]');
  if (button) confirmAction(button.dataset.action, button.dataset.service);
});

refresh();
