// Shows whether the patient service behind /api answers; replaced by the patient portal.
fetch("/api/v1/ping", { headers: { Accept: "application/json" } })
  .then((r) => {
    const el = document.getElementById("status");
    el.textContent = r.ok ? "服务正常 · Service is up" : `服务异常 (${r.status}) · Service error`;
    el.className = "status " + (r.ok ? "ok" : "bad");
  })
  .catch(() => {
    const el = document.getElementById("status");
    el.textContent = "无法连接服务 · Cannot reach the service";
    el.className = "status bad";
  });
