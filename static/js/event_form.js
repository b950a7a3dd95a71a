// The event form's lineup picker: ticking a product gives it the next free position; unticking
// clears it.
document.querySelectorAll(".lineup-picker .pick").forEach((row) => {
  const box = row.querySelector("input[type=checkbox]");
  const position = row.querySelector("input.position");
  box.addEventListener("change", () => {
    row.classList.toggle("is-picked", box.checked);
    if (!box.checked) { position.value = ""; return; }
    if (position.value) return;
    const used = [...document.querySelectorAll(".lineup-picker input.position")].map((p) => Number(p.value) || 0);
    position.value = Math.max(0, ...used) + 1;
  });
});
