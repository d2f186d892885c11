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

  const root = document.body.dataset.root || "./";

  // The invitation template: choosing one fills the editable text; the
  // text is checked by the server (the library's rules) before sending.
  const choice = document.getElementById("template-choice");
  const text = document.getElementById("invite-template");
  const result = document.getElementById("template-result");
  if (choice && text) {
    choice.addEventListener("change", () => {
      const option = choice.options[choice.selectedIndex];
      if (option) { text.value = option.dataset.text || ""; }
    });
  }
  const checkTemplate = async () => {
    const sendAt = document.getElementById("send-at");
    const answer = await fetch(root + "api/invite-templates/check", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ template: text.value, send_at: sendAt ? sendAt.value : null }),
    });
    const body = await answer.json().catch(() => ({}));
    result.replaceChildren();
    if (answer.ok) {
      result.className = "ok";
      const head = document.createElement("p");
      head.textContent = result.dataset.ok;
      const preview = document.createElement("pre");
      preview.id = "template-preview";
      preview.textContent = "Subject: " + body.subject + "\n\n" + body.body;
      result.append(head, preview);
      return true;
    }
    result.className = "error";
    const message = document.createElement("p");
    message.id = "template-error";
    message.setAttribute("role", "alert");
    message.textContent = (body.error && body.error.message) || answer.statusText;
    result.append(message);
    return false;
  };
  const checkButton = document.getElementById("check-template");
  if (checkButton && text && result) {
    checkButton.addEventListener("click", () => { checkTemplate(); });
  }
  const executeForm = document.getElementById("execute-form");
  const invite = document.getElementById("invite");
  if (executeForm && invite && text && result) {
    let checked = false;
    executeForm.addEventListener("submit", async (e) => {
      if (!invite.checked || checked) { return; }
      e.preventDefault();
      if (await checkTemplate()) {
        checked = true;
        executeForm.requestSubmit();
      } else {
        text.focus();
      }
    });
  }

  // Live progress of running jobs.
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
        const remove = row.querySelector("form.delete");
        if (remove && j.status !== "interrupted") { remove.hidden = false; }
      }
    });
    source.onerror = () => source.close();
  });

  void csrf;
})();
