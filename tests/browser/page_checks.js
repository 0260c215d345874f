// What axe-core does not check, measured in the page. Called with the name of one check;
// returns a list of problems (empty when all is well).
//
// - "leaks": a program value ("null", "undefined", "[object Object]", "NaN") shown as text.
// - "reflow": WCAG 1.4.10 at phone width. No visible element reaches past the window's left or
//   right edge, no element scrolls sideways (scrollWidth > clientWidth with overflow-x auto or
//   scroll), and the document is no wider than the window. Checking only the document misses a
//   panel that scrolls inside a page that stays narrow.
(check) => {
  const problems = [];
  const describe = (el) => {
    const id = el.id ? `#${el.id}` : "";
    const cls = typeof el.className === "string" && el.className.trim() ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
    const text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}"`;
  };
  const shown = (el) => {
    if (el.getClientRects().length === 0) return false;
    const style = getComputedStyle(el);
    return style.visibility !== "hidden" && !el.closest(".visually-hidden");
  };

  if (check === "leaks") {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const text = walker.currentNode.textContent.trim();
      const el = walker.currentNode.parentElement;
      if (el && /^(null|undefined|\[object Object\]|NaN)$/.test(text) && shown(el)) {
        problems.push(`leaked value "${text}" in ${describe(el)}`);
      }
    }
    for (const el of document.querySelectorAll("[aria-label], [title], [placeholder]")) {
      for (const name of ["aria-label", "title", "placeholder"]) {
        const value = el.getAttribute(name);
        if (value && /\b(null|undefined|NaN)\b|\[object Object\]/.test(value)) problems.push(`leaked value in ${name}="${value}" of ${describe(el)}`);
      }
    }
    return problems;
  }

  if (check === "reflow") {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width) {
      problems.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
    }
    for (const el of document.body.querySelectorAll("*")) {
      if (!shown(el)) continue;
      const box = el.getBoundingClientRect();
      if (el.classList.contains("skip-link") && box.bottom <= 0) continue; // parked above the page until focused
      if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
        problems.push(`${describe(el)} spans ${Math.round(box.left)}..${Math.round(box.right)}px in a ${width}px window`);
      }
      const overflowX = getComputedStyle(el).overflowX;
      if ((overflowX === "auto" || overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1) {
        problems.push(`${describe(el)} scrolls sideways: ${el.scrollWidth}px of content in ${el.clientWidth}px`);
      }
    }
    return problems;
  }
  throw new Error(`unknown check ${check}`);
}
