// The index table, sortable by any column and filterable by unit name. Without scripts the
// page is the same table, unsorted and unfiltered; this is its only script (pinned by a CSP
// sha256 in the page) and it loads nothing.
(() => {
  const table = document.querySelector("table.rk-index");
  const tools = document.getElementById("rk-tools");
  const filter = document.getElementById("rk-filter");
  if (!table || !table.tHead || !tools || !filter) return;
  const body = table.tBodies[0];
  tools.hidden = false;
  filter.addEventListener("input", () => {
    const wanted = filter.value.trim();
    for (const row of body.rows) {
      row.hidden = wanted !== "" && !row.cells[0].textContent.includes(wanted);
    }
  });
  const number = (cell) => {
    const value = parseFloat(cell.textContent.replace(/[%,\s]/g, ""));
    return Number.isNaN(value) ? null : value;
  };
  const compare = (col, direction) => (a, b) => {
    const x = number(a.cells[col]);
    const y = number(b.cells[col]);
    if (x !== null && y !== null) return direction * (x - y);
    if (x !== null || y !== null) return x !== null ? -1 : 1; // figures before "—"
    return direction * a.cells[col].textContent.localeCompare(b.cells[col].textContent, "zh-CN");
  };
  const headers = [...table.tHead.rows[0].cells];
  headers.forEach((th, col) => {
    th.tabIndex = 0;
    th.classList.add("rk-sortable");
    const sort = () => {
      const direction = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
      body.append(...[...body.rows].sort(compare(col, direction)));
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        sort();
      }
    });
  });
})();
