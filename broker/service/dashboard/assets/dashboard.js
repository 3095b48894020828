// Refreshes the dashboard's numbers: every few seconds the server-rendered
// panel is fetched again and swapped in. Without script the page still
// shows the numbers of its load; reload it for new ones.
"use strict";
(function () {
  const panel = document.getElementById("panel");
  if (!panel) {
    return;
  }
  const every = Number(panel.dataset.refreshMs) || 2000;
  let busy = false;
  let refreshes = 0;
  async function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    try {
      const r = await fetch("/ops/panel", {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
      if (r.status === 401) {
        // The session ended: show the sign-in form.
        window.location.reload();
        return;
      }
      if (r.ok) {
        panel.innerHTML = await r.text();
        refreshes++;
        panel.dataset.refreshes = String(refreshes);
      }
    } catch (e) {
      // Keep the last numbers; the next tick tries again.
    } finally {
      busy = false;
    }
  }
  window.setInterval(refresh, every);
})();
