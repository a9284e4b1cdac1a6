// The mall's own script (served from 'self': the CSP allows no inline script).
// A revealed code's copy button copies it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button && navigator.clipboard) {
    navigator.clipboard.writeText(button.dataset.copy);
    button.setAttribute("aria-pressed", "true");
  }
});
