// userimport page behaviour: drag and drop, "show only errors", the
// execute dialog, live job progress (server-sent events), cancel.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";

  // Drag and drop onto the file chooser.
  const drop = document.getElementById("drop");
  const file = document.getElementById("file");
  if (drop && file) {
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) { file.files = e.dataTransfer.files; }
    });
  }

  // Choosing another profile reloads the start page with its fields.
  const profile = document.getElementById("opt-profile");
  if (profile) {
    profile.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("profile", profile.value);
      window.location.href = url.toString();
    });
  }

  // Show only errors.
  const only = document.getElementById("only-errors");
  if (only) {
    const apply = () => {
      document.querySelectorAll("#issue-table tr.issue").forEach((row) => {
        row.hidden = only.checked && !row.classList.contains("error");
      });
    };
    only.addEventListener("change", apply);
    apply();
  }

  // Dialogs.
  document.querySelectorAll("[data-dialog]").forEach((button) => {
    button.addEventListener("click", () => {
      const dialog = document.getElementById(button.dataset.dialog);
      if (dialog && dialog.showModal) { dialog.showModal(); }
    });
  });
  document.querySelectorAll("[data-close]").forEach((button) => {
    button.addEventListener("click", () => {
      const dialog = document.getElementById(button.dataset.close);
      if (dialog) { dialog.close(); }
    });
  });

  // Live progress of running jobs.
  const root = document.body.dataset.root || "./";
  document.querySelectorAll("tr.job[data-status='running']").forEach((row) => {
    const id = row.dataset.job;
    const started = Date.now();
    let firstDone = null;
    const source = new EventSource(root + "api/jobs/" + id + "/events");
    const show = (done, total) => {
      row.querySelector("progress").max = total;
      row.querySelector("progress").value = done;
      row.querySelector(".done").textContent = done;
      row.querySelector(".total").textContent = total;
      if (firstDone === null) { firstDone = done; }
      const rate = (done - firstDone) / ((Date.now() - started) / 1000);
      if (rate > 0 && total > done) {
        row.querySelector(".eta").textContent = Math.ceil((total - done) / rate) + " s";
      }
    };
    source.addEventListener("progress", (e) => {
      const p = JSON.parse(e.data);
      show(p.rows_done, p.rows_total);
    });
    source.addEventListener("job", (e) => {
      const j = JSON.parse(e.data);
      show(j.rows_done, j.spec ? j.spec.rows_total : j.rows_total);
      row.dataset.status = j.status;
      row.querySelector(".status").textContent = j.status;
      ["created", "updated", "deleted", "unchanged", "failed"].forEach((k) => {
        const cell = row.querySelector(".c-" + k);
        if (cell) { cell.textContent = j[k]; }
      });
      if (j.status !== "running") {
        source.close();
        row.querySelector(".eta").textContent = "";
        const cancel = row.querySelector("form.cancel");
        if (cancel) { cancel.remove(); }
      }
    });
    source.onerror = () => source.close();
  });

  void csrf;
})();
