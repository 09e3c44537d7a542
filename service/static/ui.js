// The dashboard works without this file; with it, the try-it form answers in place and
// a chosen image is previewed before it is sent.
"use strict";

function answerInPlace(form) {
  form.addEventListener("submit", async (event) => {
    const answer = document.getElementById("answer");
    if (!answer) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      // The server renders the answer (or what was wrong) as it would for a plain submit.
      const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const rendered = page.getElementById("answer");
      if (!rendered) throw new Error(`no answer in the ${response.status} response`);
      answer.replaceWith(document.adoptNode(rendered));
      rendered.scrollIntoView({ block: "nearest" });
    } catch (error) {
      form.submit(); // the plain way: the page of the answer
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

function previewImage(input) {
  const preview = document.getElementById(input.dataset.preview);
  input.addEventListener("change", () => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    const [file] = input.files;
    preview.hidden = !file;
    if (file) preview.src = URL.createObjectURL(file);
  });
}

document.querySelectorAll("form[data-try]").forEach(answerInPlace);
document.querySelectorAll("input[type=file][data-preview]").forEach(previewImage);
