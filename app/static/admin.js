// The portal's own script (served from 'self': the CSP allows no inline script).
// Upload progress: a form marked data-upload-progress is sent by htmx, which reports the
// bytes sent; its <progress> element shows them.
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target.closest("form[data-upload-progress]");
  const bar = form && form.querySelector("progress");
  if (bar && event.detail.lengthComputable) {
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});
