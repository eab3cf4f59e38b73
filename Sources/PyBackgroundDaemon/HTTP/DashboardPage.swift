/// The dashboard: one page of HTML, CSS and JavaScript served by pybgd itself (no build step,
/// nothing loaded from elsewhere). It reads `/api/…` once, then follows `/api/events` and
/// changes what it shows as events come; a `lagged` event, or a reconnect, reads the tables again.
///
/// Elements a test (or a user's script) can rely on: `#connection` (`live` or `reconnecting`),
/// `#counts [data-state=S]`, `#queues tr[data-queue=Q]`, `#running tr[data-id=ID]`,
/// `#tasks tr[data-id=ID]` with `.state`, `#schedules tr[data-schedule=N]`, `#throughput svg`.
enum DashboardPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>pybgd</title>
        <style>
          :root { --fg:#1d2430; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb; --ok:#12805c; --bad:#c0362c; --run:#1a5fb4; --wait:#9a6700; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
          header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
          header h1 { font-size: 18px; margin: 0; }
          #connection { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #fdecea; color: var(--bad); }
          #connection.live { background: #e7f6ef; color: var(--ok); }
          #counts { display: flex; gap: 12px; flex-wrap: wrap; color: var(--muted); }
          #counts b { color: var(--fg); }
          main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
          section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
          section.wide { grid-column: 1 / -1; }
          h2 { font-size: 14px; margin: 0 0 8px; display: flex; gap: 8px; align-items: center; }
          h2 .note { font-weight: normal; color: var(--muted); font-size: 12px; }
          table { width: 100%; border-collapse: collapse; }
          th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 360px; }
          th { color: var(--muted); font-weight: 600; font-size: 12px; }
          td.id { font-family: ui-monospace, monospace; }
          .state { font-weight: 600; }
          .state-finished { color: var(--ok); } .state-failed, .state-interrupted { color: var(--bad); }
          .state-running { color: var(--run); } .state-cancelled { color: var(--muted); }
          .state-pending, .state-scheduled, .state-waiting, .state-retrying { color: var(--wait); }
          .empty { color: var(--muted); padding: 6px; }
          .pager { display: flex; gap: 8px; align-items: center; margin-left: auto; font-weight: normal; }
          button, select { font: inherit; padding: 2px 8px; }
          a { color: var(--run); cursor: pointer; }
          #output { position: fixed; inset: 5% 8%; background: #fff; border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 8px 40px #0003; display: none; flex-direction: column; }
          #output.open { display: flex; }
          #output header { justify-content: space-between; }
          #output pre { margin: 0; padding: 12px 16px; overflow: auto; flex: 1; font: 12px/1.45 ui-monospace, monospace; white-space: pre-wrap; }
          #chart { width: 100%; height: 160px; }
        </style>
        </head>
        <body>
        <header>
          <h1>pybgd</h1>
          <span id="connection">connecting</span>
          <span id="counts"></span>
          <span id="version" class="note"></span>
        </header>
        <main>
          <section id="queues"><h2>Queues</h2><table><thead><tr><th>queue</th><th>limit</th><th>running</th><th>pending</th><th>state</th></tr></thead><tbody></tbody></table></section>
          <section id="running"><h2>Running <span class="note" id="running-count"></span></h2><table><thead><tr><th>id</th><th>task</th><th>queue</th><th>running for</th></tr></thead><tbody></tbody></table></section>
          <section id="tasks" class="wide">
            <h2>Tasks
              <select id="state-filter" aria-label="state">
                <option value="">all states</option><option>pending</option><option>running</option><option>scheduled</option><option>waiting</option>
                <option>retrying</option><option>finished</option><option>failed</option><option>cancelled</option><option>interrupted</option>
              </select>
              <span class="pager"><button id="newer">newer</button><span id="page-info" class="note"></span><button id="older">older</button></span>
            </h2>
            <table><thead><tr><th>id</th><th>task</th><th>queue</th><th>state</th><th>submitted</th><th>duration</th><th>result</th><th>output</th></tr></thead><tbody></tbody></table>
          </section>
          <section id="schedules"><h2>Schedules</h2><table><thead><tr><th>schedule</th><th>task</th><th>trigger</th><th>next run</th><th>last</th></tr></thead><tbody></tbody></table></section>
          <section id="throughput"><h2>Throughput <span class="note">tasks ended per minute, last hour</span></h2><svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></section>
        </main>
        <div id="output" role="dialog"><header><b id="output-title"></b><span><a id="output-stderr">stderr</a> · <a id="output-stdout">stdout</a> · <a id="output-close">close</a></span></header><pre></pre></div>
        <script>
        "use strict";
        const token = new URLSearchParams(location.search).get("token");
        const api = (path) => path + (token ? (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : "");
        const $ = (selector) => document.querySelector(selector);
        const pageSize = 50;
        const state = { offset: 0, filter: "", total: 0, running: new Map(), status: null, outputId: null };
        const ended = new Set(["finished", "failed", "cancelled", "interrupted"]);

        function cell(text, className) {
          const td = document.createElement("td");
          td.textContent = text == null ? "" : String(text);
          if (className) td.className = className;
          return td;
        }
        function short(id) { return id.slice(0, 8); }
        function duration(seconds) {
          if (seconds == null || !isFinite(seconds)) return "";
          if (seconds < 1) return Math.round(seconds * 1000) + "ms";
          if (seconds < 60) return seconds.toFixed(seconds < 10 ? 2 : 1) + "s";
          const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
          if (m < 60) return m + "m" + String(s).padStart(2, "0") + "s";
          return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
        }
        function clock(epoch) { return epoch == null ? "" : new Date(epoch * 1000).toLocaleString(); }
        function stateCell(value) { return cell(value, "state state-" + value); }
        async function json(path) {
          const response = await fetch(api(path), { cache: "no-store" });
          if (!response.ok) throw new Error(path + ": " + response.status);
          return response.json();
        }

        function renderStatus(status) {
          state.status = status;
          $("#version").textContent = "v" + status.version + " · pid " + status.pid + " · " + status.workers + " workers";
          const counts = $("#counts");
          counts.replaceChildren();
          for (const name of ["scheduled", "waiting", "pending", "running", "retrying", "finished", "failed", "cancelled", "interrupted"]) {
            const span = document.createElement("span");
            span.dataset.state = name;
            span.innerHTML = "<b></b> " + name;
            span.firstChild.textContent = status[name];
            counts.append(span);
          }
          const body = $("#queues tbody");
          body.replaceChildren();
          for (const queue of status.queues) {
            const row = document.createElement("tr");
            row.dataset.queue = queue.name;
            row.append(cell(queue.name), cell(queue.max_running), cell(queue.running), cell(queue.pending), cell(queue.paused ? "paused" : "running"));
            body.append(row);
          }
        }

        function renderRunning() {
          const body = $("#running tbody");
          const now = Date.now() / 1000;
          body.replaceChildren();
          const rows = [...state.running.values()].sort((a, b) => a.started - b.started);
          $("#running-count").textContent = rows.length ? rows.length + " now" : "";
          if (!rows.length) { const row = document.createElement("tr"); row.append(cell("nothing runs", "empty")); row.firstChild.colSpan = 4; body.append(row); }
          for (const task of rows) {
            const row = document.createElement("tr");
            row.dataset.id = task.id;
            row.append(cell(short(task.id), "id"), cell(task.task), cell(task.queue), cell(duration(now - task.started), "elapsed"));
            body.append(row);
          }
        }

        function resultText(future) {
          if (future.error) return future.error.code + ": " + future.error.message;
          if (future.result == null) return "";
          if (typeof future.result === "object" && "exit_status" in future.result) return "exit " + future.result.exit_status;
          return typeof future.result === "string" ? future.result : JSON.stringify(future.result);
        }

        function taskRow(future) {
          const row = document.createElement("tr");
          row.dataset.id = future.id;
          const link = document.createElement("a");
          link.textContent = "output";
          link.addEventListener("click", () => showOutput(future.id, "stdout"));
          const output = document.createElement("td");
          output.append(link);
          row.append(cell(short(future.id), "id"), cell(future.name), cell(future.queue || "default"),
                     stateCell(future.state), cell(clock(future.submitted_at)), cell(duration(future.duration_seconds), "duration"),
                     cell(resultText(future), "result"), output);
          return row;
        }

        async function loadTasks() {
          const page = await json("/api/tasks?offset=" + state.offset + "&limit=" + pageSize + (state.filter ? "&state=" + state.filter : ""));
          state.total = page.total;
          const body = $("#tasks tbody");
          body.replaceChildren(...page.futures.map(taskRow));
          if (!page.futures.length) { const row = document.createElement("tr"); row.append(cell("no tasks", "empty")); row.firstChild.colSpan = 8; body.append(row); }
          const last = Math.min(state.offset + page.futures.length, page.total);
          $("#page-info").textContent = page.total ? (state.offset + 1) + "–" + last + " of " + page.total : "";
          $("#newer").disabled = state.offset === 0;
          $("#older").disabled = last >= page.total;
        }

        async function loadRunning() {
          const page = await json("/api/tasks?state=running&limit=500");
          state.running = new Map(page.futures.map((f) => [f.id, { id: f.id, task: f.name, queue: f.queue || "default", started: f.started_at }]));
          renderRunning();
        }

        async function loadSchedules() {
          const list = await json("/api/schedules");
          const body = $("#schedules tbody");
          body.replaceChildren();
          if (!list.schedules.length) { const row = document.createElement("tr"); row.append(cell("no schedules", "empty")); row.firstChild.colSpan = 5; body.append(row); }
          for (const schedule of list.schedules) {
            const row = document.createElement("tr");
            row.dataset.schedule = schedule.name;
            row.append(cell(schedule.name), cell(schedule.task), cell(schedule.trigger), cell(schedule.paused ? "paused" : clock(schedule.next_run), "next"),
                       cell(schedule.last_state || ""));
            body.append(row);
          }
        }

        async function loadThroughput() {
          const data = await json("/api/throughput");
          const svg = $("#chart");
          const minutes = data.minutes;
          const peak = Math.max(1, ...minutes.map((m) => m.finished + m.failed + m.cancelled));
          const width = 600 / minutes.length;
          const parts = [];
          minutes.forEach((m, i) => {
            let y = 150;
            for (const [count, color] of [[m.finished, "#12805c"], [m.failed, "#c0362c"], [m.cancelled, "#98a2b3"]]) {
              const h = count / peak * 140;
              if (h > 0) parts.push('<rect x="' + (i * width + 1) + '" y="' + (y - h) + '" width="' + (width - 2) + '" height="' + h + '" fill="' + color + '"><title>' + count + '</title></rect>');
              y -= h;
            }
          });
          parts.push('<text x="2" y="12" font-size="11" fill="#667085">peak ' + peak + '/min</text>');
          svg.innerHTML = parts.join("");
        }

        // A reading of the tables is a snapshot from when it was asked for: events that came while it
        // was on its way are applied again on top of it, or a task that started meanwhile would vanish.
        let readings = 0;
        let sinceReading = [];
        async function reading(work) {
          if (readings++ === 0) sinceReading = [];
          try { await work(); } finally {
            if (--readings === 0) { for (const event of sinceReading) apply(event); sinceReading = []; renderRunning(); }
          }
        }

        function loadAll() {
          return reading(async () => {
            const [status] = await Promise.all([json("/api/status"), loadTasks(), loadRunning(), loadSchedules(), loadThroughput()]);
            renderStatus(status);
          });
        }

        // Many events in a burst become one read of the tables, at most every half second.
        let refreshTimer = null;
        function refreshSoon() {
          if (refreshTimer) return;
          refreshTimer = setTimeout(async () => {
            refreshTimer = null;
            try {
              await reading(async () => { const [status] = await Promise.all([json("/api/status"), loadTasks(), loadThroughput()]); renderStatus(status); });
            } catch (e) { console.error(e); }
          }, 500);
        }

        // Events are applied in batches, once per animation frame: a burst of thousands costs one
        // redraw, and one past a thousand is taken as a whole new reading of the tables.
        let queued = [];
        function receive(event) {
          queued.push(event);
          if (queued.length === 1) requestAnimationFrame(applyQueued);
        }
        function applyQueued() {
          const batch = queued;
          queued = [];
          if (batch.length > 1000 || batch.some((e) => e.event === "lagged")) { loadAll().catch(console.error); return; }
          for (const event of batch) { apply(event); if (readings > 0) sinceReading.push(event); }
          renderRunning();
          refreshSoon();
        }

        function apply(event) {
          const row = document.querySelector('#tasks tr[data-id="' + event.id + '"]');
          const shown = event.event === "submitted" ? "pending" : event.event;
          if (row) {
            const cellState = row.querySelector(".state");
            cellState.textContent = shown;
            cellState.className = "state state-" + shown;
            if (event.duration_seconds != null) row.querySelector(".duration").textContent = duration(event.duration_seconds);
          } else if ((event.event === "submitted" || event.event === "scheduled") && state.offset === 0 && (!state.filter || state.filter === shown)) {
            const body = $("#tasks tbody");
            const empty = body.querySelector(".empty");
            if (empty) empty.parentElement.remove();
            body.prepend(taskRow({ id: event.id, name: event.task, queue: event.queue, state: shown, submitted_at: event.at }));
            while (body.children.length > pageSize) body.lastElementChild.remove();
          }
          if (event.event === "started") state.running.set(event.id, { id: event.id, task: event.task, queue: event.queue, started: event.at });
          if (ended.has(event.event) || event.event === "retrying") state.running.delete(event.id);
        }

        function connect() {
          const source = new EventSource(api("/api/events"));
          source.onopen = () => { $("#connection").textContent = "live"; $("#connection").className = "live"; loadAll().catch(console.error); };
          source.onmessage = (message) => receive(JSON.parse(message.data));
          source.onerror = () => { $("#connection").textContent = "reconnecting"; $("#connection").className = ""; };
        }

        async function showOutput(id, stream) {
          state.outputId = id;
          const response = await fetch(api("/api/tasks/" + id + "/output?stream=" + stream), { cache: "no-store" });
          $("#output-title").textContent = short(id) + " " + stream;
          $("#output pre").textContent = response.ok ? (await response.text()) || "(nothing written)" : "not found";
          $("#output").className = "open";
        }
        $("#output-close").addEventListener("click", () => { $("#output").className = ""; });
        $("#output-stdout").addEventListener("click", () => showOutput(state.outputId, "stdout"));
        $("#output-stderr").addEventListener("click", () => showOutput(state.outputId, "stderr"));
        $("#newer").addEventListener("click", () => { state.offset = Math.max(0, state.offset - pageSize); loadTasks(); });
        $("#older").addEventListener("click", () => { state.offset += pageSize; loadTasks(); });
        $("#state-filter").addEventListener("change", (e) => { state.filter = e.target.value; state.offset = 0; loadTasks(); });
        setInterval(renderRunning, 1000);
        setInterval(() => { loadThroughput().catch(console.error); loadSchedules().catch(console.error); }, 10000);
        loadAll().catch(console.error);
        connect();
        </script>
        </body>
        </html>
        """#
}
